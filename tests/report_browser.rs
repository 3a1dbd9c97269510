//! The report page in a real browser: `taskmem report` writes the page for a fixture summary
//! (the matrix, a payload pair and a user's case), headless Chromium lays it out in a 1280 px
//! window, and the test checks what a reader sees: nothing past the window's right edge and
//! no table that scrolls; the first chart is the headline, its bars sorted and labelled,
//! with only the published matrix in it; payloads and bounded pairs in their own sections;
//! one table row per case and skip; and a screenshot (a PNG of the window's size with the
//! palette's colours painted), kept at `target/tmp/report-1280.png`.
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

/// What the measuring script found in the laid-out page (see [`MEASURE`]).
#[derive(Debug, serde::Deserialize)]
struct Measured {
    /// The page's width and the window's.
    scroll_width: f64,
    client_width: f64,
    /// Elements reaching past the window's right edge, or scrolling inside it.
    overflowing: Vec<String>,
    /// The ids of the figures, in page order (hidden tabs included).
    figures: Vec<String>,
    /// The first chart's bars, top to bottom: value, label, the text at the bar's end.
    bars: Vec<(f64, String, String)>,
    /// The id of the section holding the first figure.
    first_section: String,
}

/// Appended to a copy of the page (the page itself has no script): writes what it measured
/// as JSON into `<pre id="measured">`, which `--dump-dom` then shows.
const MEASURE: &str = r#"<script>
const d = document.documentElement;
const overflowing = [];
for (const e of document.querySelectorAll('body *')) {
  const r = e.getBoundingClientRect();
  if (r.width > 0 && r.right > d.clientWidth + 0.5) overflowing.push(e.tagName + '#' + (e.id || e.className || ''));
  if (e.classList.contains('scroll') && e.scrollWidth > e.clientWidth + 0.5) overflowing.push('scrolls:' + (e.firstElementChild ? e.firstElementChild.id : ''));
}
const figs = [...document.querySelectorAll('figure')];
const first = figs[0];
const bars = [...first.querySelectorAll('rect.bar')].map((r, i) => [
  parseFloat(r.dataset.value),
  first.querySelectorAll('text.bar-label')[i].textContent,
  first.querySelectorAll('text.bar-value')[i].textContent,
]);
const out = document.createElement('pre');
out.id = 'measured';
out.textContent = JSON.stringify({
  scroll_width: d.scrollWidth, client_width: d.clientWidth, overflowing,
  figures: figs.map(f => f.id), bars, first_section: first.closest('section').id,
});
document.body.appendChild(out);
</script>"#;

/// The JSON the measuring script left in the dumped DOM.
fn measured(dom: &str) -> Measured {
    let start = dom.find("<pre id=\"measured\">").expect("the script ran") + 19;
    let end = start + dom[start..].find("</pre>").expect("pre ends");
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

/// Where the screenshot is kept for CI: `target/tmp/report-1280.png`.
fn kept_screenshot() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-1280.png")
}

#[test]
fn the_report_renders_in_chromium_with_its_charts_and_tables() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = common::temp_dir("report-browser");
    let summary = common::summary_with_variants();
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

    // The DOM after Chromium parsed and laid out the page at 1280 px, measured by a script
    // added to a copy of it.
    let probe = page.with_file_name("measured.html");
    std::fs::write(
        &probe,
        source.replace("</body>", &format!("{MEASURE}</body>")),
    )
    .unwrap();
    let dom = run_chromium(
        &chromium,
        &dir,
        &[
            "--dump-dom".to_string(),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
        ],
        &probe,
    );
    let m = measured(&dom);
    assert_eq!(m.client_width, f64::from(WINDOW.0), "{m:?}");
    assert!(
        m.scroll_width <= m.client_width && m.overflowing.is_empty(),
        "the page is {} px wide in a {} px window; past its edge: {:?}",
        m.scroll_width,
        m.client_width,
        m.overflowing
    );
    // The first chart is the headline at the largest N: sorted, every bar labelled with its
    // pair and its value, and none of the payload, bounded or user pairs in it.
    assert_eq!(m.first_section, "headline");
    assert_eq!(m.figures[0], "chart-peak-n10000", "{:?}", m.figures);
    assert!(m.bars.len() >= 10, "{:?}", m.bars);
    assert!(
        m.bars.windows(2).all(|w| w[0].0 <= w[1].0),
        "bars not sorted: {:?}",
        m.bars
    );
    for (value, label, text) in &m.bars {
        assert!(*value > 0.0 && label.matches('/').count() == 1, "{label}");
        assert!(
            text.ends_with(" KiB") || text.ends_with(" MiB") || text.contains("process RSS"),
            "{label}: {text}"
        );
        assert!(
            !label.contains("/k") && !label.contains("/p") && !label.starts_with("handler"),
            "{label} is not in the published matrix"
        );
    }
    assert!(
        m.bars
            .iter()
            .any(|b| b.1 == "os/threads" && b.2.ends_with("process RSS"))
    );
    for id in [
        "chart-peak-n1",
        "chart-memory-vs-n",
        "chart-bytes-per-task",
        "chart-threads-vs-tasks",
        "chart-payload-per-task",
        "chart-bounded",
    ] {
        assert!(
            m.figures.iter().any(|f| f == id),
            "{id} not in {:?}",
            m.figures
        );
    }
    // Payloads and bounded pairs have their own sections; the user's case its own table.
    for (section, figure) in [
        ("payloads", "chart-payload-per-task"),
        ("bounded", "chart-bounded"),
    ] {
        let at = dom
            .find(&format!("<section id=\"{section}\""))
            .expect(section);
        let end = at + dom[at..].find("</section>").unwrap();
        assert!(dom[at..end].contains(&format!("<figure id=\"{figure}\"")));
    }
    assert!(dom.contains("handler/tokio-mt/spawn/1000"));
    assert!(dom.contains("flat: "), "bounded pairs read as flat");

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
        "size_of the task's future",
    ] {
        assert!(dom.contains(label), "axis text {label:?} missing");
    }
    assert!(dom.contains("href=\"../report/index.html\""));

    // A screenshot at 1280 px, kept under target/ for CI: the window's size, with the
    // charts' colours painted.
    let shot = kept_screenshot();
    let _ = std::fs::remove_file(&shot);
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
    // The headline's bars are 18 px high and tens to hundreds of pixels long.
    for (name, count) in ["blue", "orange", "green"].iter().zip(&counts) {
        assert!(*count > 1000, "{count} {name} pixels: charts not painted?");
    }
    println!("screenshot kept at {}", shot.display());
    let _ = std::fs::remove_dir_all(&dir);
}
