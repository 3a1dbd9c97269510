//! The report page in a real browser: `taskmem report` writes the page for a fixture summary,
//! headless Chromium loads it, and the test checks the DOM it built (three SVG charts, a
//! cases table with one row per case and skip, the axis labels) and a screenshot (a PNG of
//! the window's size with the palette's colours painted).
//!
//! Run with:
//!
//! ```text
//! cargo test --test report_browser                            # skips without Chromium
//! TASKMEM_REQUIRE_BROWSER=1 cargo test --test report_browser  # fails without Chromium (CI)
//! ```
//!
//! Chromium is Debian's `chromium` package (`apt-get install chromium`, `/usr/bin/chromium`);
//! `TASKMEM_CHROMIUM` names another binary. Every Chromium run is killed, with its child
//! processes, if it takes longer than [`BROWSER_TIMEOUT`].

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one Chromium run may take before it is killed.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

const WINDOW: (u32, u32) = (1280, 2400);

/// The Chromium binary, or `None` (after saying why the test is skipped) when there is none
/// and `TASKMEM_REQUIRE_BROWSER` is not `1`.
fn chromium() -> Option<PathBuf> {
    let candidate = std::env::var_os("TASKMEM_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if candidate.is_file() {
        return Some(candidate);
    }
    if std::env::var("TASKMEM_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!(
            "TASKMEM_REQUIRE_BROWSER=1 but there is no Chromium at {} (apt-get install chromium)",
            candidate.display()
        );
    }
    println!("skipped: chromium not installed (apt-get install chromium)");
    None
}

/// Runs headless Chromium with `args` and the page; returns its stdout. Kills the browser and
/// its children after [`BROWSER_TIMEOUT`].
fn run_chromium(chromium: &Path, scratch: &Path, args: &[String], page: &Path) -> String {
    use std::os::unix::process::CommandExt;
    let profile = common::temp_dir("chromium-profile");
    let out_file = scratch.join(format!("chromium-{}.out", args.len()));
    let err_file = scratch.join(format!("chromium-{}.err", args.len()));
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_file).expect("stdout file"))
        .stderr(std::fs::File::create(&err_file).expect("stderr file"))
        // Its own process group, so a timeout kills the renderer and GPU processes too.
        .process_group(0)
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            // SAFETY: kill(2) on the process group we created; no memory is involved.
            unsafe {
                libc::kill(-(child.id() as i32), libc::SIGKILL);
            }
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&profile);
            panic!(
                "chromium did not finish within {} s (killed)",
                BROWSER_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = std::fs::remove_dir_all(&profile);
    let stderr = std::fs::read_to_string(&err_file).unwrap_or_default();
    assert!(
        status.success(),
        "chromium failed ({status}): {}",
        stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
    );
    std::fs::read_to_string(&out_file).expect("chromium's output")
}

/// The part of `html` from the element with this id to the end of its table.
fn table_html<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"));
    let end = start + html[start..].find("</table>").expect("table ends");
    &html[start..end]
}

/// Counts pixels of each colour (exact RGB) in a PNG; returns the image size too.
fn pixels(png_file: &Path, colours: &[(u8, u8, u8)]) -> ((u32, u32), Vec<usize>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_file).expect("screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    assert!(
        info.bit_depth == png::BitDepth::Eight && channels >= 3,
        "unexpected PNG format {:?} {:?}",
        info.color_type,
        info.bit_depth
    );
    let mut counts = vec![0; colours.len()];
    for px in buf[..info.buffer_size()].chunks_exact(channels) {
        if let Some(i) = colours.iter().position(|c| *c == (px[0], px[1], px[2])) {
            counts[i] += 1;
        }
    }
    ((info.width, info.height), counts)
}

#[test]
fn the_report_renders_in_chromium_with_its_charts_and_tables() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = common::temp_dir("report-browser");
    let summary = common::summary();
    let summary_file = common::write_summary(&dir, &summary);
    // Criterion's report beside ours, as `cargo bench` leaves it.
    let criterion = dir.join("criterion");
    std::fs::create_dir_all(criterion.join("report")).unwrap();
    std::fs::write(criterion.join("report").join("index.html"), "<html></html>").unwrap();
    let page = criterion.join("taskmem").join("index.html");

    let out = Command::new(env!("CARGO_BIN_EXE_taskmem"))
        .args(["report", "--summary"])
        .arg(&summary_file)
        .arg("--out")
        .arg(&page)
        .output()
        .expect("taskmem runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let source = std::fs::read_to_string(&page).expect("the page");
    assert!(
        !source.contains("http://") && !source.contains("https://"),
        "the page names an outside address"
    );
    assert!(!source.contains("<script"), "the page has a script");

    // The DOM after Chromium parsed and laid out the page.
    let dom = run_chromium(&chromium, &dir, &["--dump-dom".to_string()], &page);
    assert!(
        dom.contains("<h1>taskmem: memory of N concurrent tasks</h1>"),
        "{dom}"
    );
    assert_eq!(dom.matches("<svg").count(), 3, "three charts");
    for id in ["memory-vs-n", "bytes-per-task", "threads-vs-tasks"] {
        assert!(
            dom.contains(&format!("<figure id=\"chart-{id}\"")),
            "chart {id} missing"
        );
    }
    let cases = table_html(&dom, "cases");
    let body = &cases[cases.find("<tbody>").expect("tbody")..];
    assert_eq!(body.matches("<tr>").count(), common::case_rows(&summary));
    assert!(body.contains("skipped: 100000 OS threads exceed kernel.pid_max = 32768"));
    let pairs = table_html(&dom, "pairs");
    assert_eq!(
        pairs[pairs.find("<tbody>").unwrap()..]
            .matches("<tr>")
            .count(),
        summary.pairs.len()
    );
    for label in [
        "tasks alive at the peak, N (count)",
        "memory at the peak (bytes, jemalloc resident; process RSS for os/threads)",
        "bytes per task (jemalloc resident, slope across N)",
        "10K",
        "size_of the task's future",
    ] {
        assert!(dom.contains(label), "axis text {label:?} missing");
    }
    assert!(dom.contains("href=\"../report/index.html\""));

    // A screenshot: the window's size, with the charts' colours painted.
    let shot = dir.join("report.png");
    run_chromium(
        &chromium,
        &dir,
        &[
            format!("--screenshot={}", shot.display()),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
        ],
        &page,
    );
    let bytes = std::fs::metadata(&shot).expect("a screenshot").len();
    assert!(bytes > 20_000, "screenshot of {bytes} bytes: blank?");
    let blue = (0x00, 0x72, 0xB2);
    let orange = (0xE6, 0x9F, 0x00);
    let green = (0x00, 0x9E, 0x73);
    let (size, counts) = pixels(&shot, &[blue, orange, green]);
    assert_eq!(size, WINDOW);
    // Bars in the per-task chart are tens of pixels wide and a hundred high.
    for (name, count) in ["blue", "orange", "green"].iter().zip(&counts) {
        assert!(*count > 1000, "{count} {name} pixels: charts not painted?");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
