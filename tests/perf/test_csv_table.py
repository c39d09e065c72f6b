from analyzer_core.perf.csv_table import parse_perf_csv

# A row as perf_analyzer 2.51 writes it with --verbose-csv on a CPU-only machine.
REAL_HEADER = (
    "Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,"
    "Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,"
    "p50 latency,p90 latency,p95 latency,p99 latency,Avg latency,request/response,"
    "response wait,Avg GPU Utilization,Avg GPU Power Usage,Max GPU Memory Usage,"
    "Total GPU Memory"
)
REAL_ROW = "2,3349.79,64,207,92,18,161,46,0,560,785,876,1226,591,64,520,,,,"


def test_real_row_converts_microseconds():
    [row] = parse_perf_csv(f"{REAL_HEADER}\n{REAL_ROW}\n")
    assert row.concurrency == 2
    assert row.metrics["perf_throughput"] == 3349.79
    assert row.metrics["perf_latency_p99"] == 1.226
    assert row.metrics["perf_server_queue"] == 0.092
    assert row.metrics["perf_client_send_recv"] == 0.064


def test_empty_gpu_cells_give_no_gpu_metrics():
    [row] = parse_perf_csv(f"{REAL_HEADER}\n{REAL_ROW}\n")
    assert row.gpu_metrics == {}


def test_per_gpu_cells_are_split():
    text = (
        "Concurrency,Inferences/Second,Avg GPU Utilization,Max GPU Memory Usage\n"
        "1,10,GPU-a:0.505;GPU-b:0.3;,GPU-a:1000000;GPU-b:2000000;\n"
    )
    [row] = parse_perf_csv(text)
    assert row.gpu_metrics["GPU-a"]["gpu_utilization"] == 50.5
    assert row.gpu_metrics["GPU-b"]["gpu_utilization"] == 30.0
    assert row.gpu_metrics["GPU-b"]["gpu_used_memory"] == 2.0


def test_bom_and_crlf_are_accepted():
    text = "\ufeff" + f"{REAL_HEADER}\r\n{REAL_ROW}\r\n"
    [row] = parse_perf_csv(text)
    assert row.metrics["perf_throughput"] == 3349.79


def test_extra_column_is_ignored():
    text = "Concurrency,Inferences/Second,Something New\n1,10,abc\n"
    [row] = parse_perf_csv(text)
    assert row.metrics == {"perf_throughput": 10.0}


def test_missing_column_warns_once(caplog):
    text = "Concurrency,Inferences/Second\n1,10\n"
    parse_perf_csv(text)
    warnings = [r for r in caplog.records if "no column for" in r.getMessage()]
    assert len(warnings) == 1
    assert "perf_latency_p99" in warnings[0].getMessage()


def test_empty_cell_leaves_metric_absent():
    text = "Concurrency,Inferences/Second,p99 latency\n1,10,\n"
    [row] = parse_perf_csv(text)
    assert "perf_latency_p99" not in row.metrics


def test_empty_text_gives_no_rows():
    assert parse_perf_csv("") == []


def test_request_rate_row_read():
    text = "Request Rate,Inferences/Second,p99 latency\n40,39.8,2500\n"
    [row] = parse_perf_csv(text)
    assert row.request_rate == 40.0
    assert row.concurrency is None
    assert row.metrics["perf_throughput"] == 39.8


def test_non_numeric_cell_skipped():
    text = "Concurrency,Inferences/Second,p99 latency\n1,10,n/a\n"
    [row] = parse_perf_csv(text)
    assert "perf_latency_p99" not in row.metrics


def test_blank_rows_skipped():
    text = "Concurrency,Inferences/Second\n\n1,10\n,\n"
    rows = parse_perf_csv(text)
    assert len(rows) == 1
