//! Unit tests of the peers module: the shipped manifest, malformed ones, placeholders, the
//! cached build, detection and the `done` line (a POSIX `sh` peer stands in for a toolchain).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::build::STAMP;
use super::template::{Vars, expand};
use super::*;
use crate::child;

fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("taskmem-peers-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    dir
}

const GOOD: &str = r#"
[[peer]]
id = "sh/sleep"
label = "POSIX sleep"
dir = "src"
check = [["sh", "-c", "echo sh 1.0"]]
build = [["sh", "-c", "echo built >> {build}/count; cp {src}/prog.sh {build}/prog.sh"]]
run = ["sh", "{build}/prog.sh", "{n}", "{sleep_ms}", "{procs}"]
install = "apt-get install dash"
"#;

fn parse(text: &str, dir: &Path) -> Result<Manifest, String> {
    Manifest::parse(text, Path::new("peers.toml"), dir)
}

fn parse_err(text: &str) -> String {
    let dir = tmp_dir("bad");
    let err = parse(text, &dir).unwrap_err();
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("peers.toml"), "{err}");
    err
}

#[test]
fn the_shipped_manifest_loads_with_every_published_peer() {
    let m = Manifest::load_default().unwrap();
    let ids: Vec<&str> = m.peers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "rust/tokio",
            "go/goroutines",
            "node/promises",
            "python/asyncio",
            "python/threads",
            "java/threads",
            "java/virtual-threads",
            "elixir/processes",
            "csharp/tasks"
        ]
    );
    let threads: Vec<&str> = m
        .peers
        .iter()
        .filter(|p| p.threads)
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(threads, ["python/threads", "java/threads"]);
    assert!(m.peers.iter().all(|p| p.src.is_dir()));
}

#[test]
fn placeholders_expand_in_the_run_command() {
    let dir = tmp_dir("expand");
    let m = parse(GOOD, &dir).unwrap();
    let peer = m.get("sh/sleep").unwrap();
    let tc = Toolchain {
        version: "sh 1.0".into(),
        others: Vec::new(),
        tool: None,
    };
    let built = Built {
        id: peer.id.clone(),
        build_dir: dir.join("b"),
        rebuilt: false,
        toolchain: tc,
        peer: peer.clone(),
    };
    let cmd = built.command(1_000_000, Duration::from_millis(1500));
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert_eq!(cmd.get_program(), "sh");
    assert_eq!(
        args,
        [
            dir.join("b").join("prog.sh").to_string_lossy().into_owned(),
            "1000000".into(),
            "1500".into(),
            "1001024".into()
        ]
    );
    assert_eq!(procs_for(10), 262_144);
}

#[test]
fn expand_keeps_text_around_placeholders() {
    let vars = Vars {
        src: Path::new("/s"),
        build: Path::new("/b"),
        peers: Path::new("/p"),
        tool: Some("/usr/bin/java"),
        n: Some("10"),
        sleep_ms: None,
        procs: Some("262144".into()),
    };
    assert_eq!(expand("+P {procs}", &vars), "+P 262144");
    assert_eq!(
        expand("{build}/x-{n}.{tool}", &vars),
        "/b/x-10./usr/bin/java"
    );
    assert_eq!(expand("plain", &vars), "plain");
}

#[test]
fn the_build_runs_once_and_again_when_the_sources_change() {
    let dir = tmp_dir("build");
    std::fs::write(dir.join("src/prog.sh"), "echo done $1\n").unwrap();
    let m = parse(GOOD, &dir).unwrap();
    let peer = &m.peers[0];
    let Status::Ready(tc) = peer.detect() else {
        panic!("sh is not installed?")
    };
    assert_eq!(tc.version, "sh 1.0");
    let root = dir.join("target");
    let first = peer.build(&tc, &root).unwrap();
    assert!(first.rebuilt);
    assert_eq!(first.build_dir, root.join("sh/sleep"));
    let again = peer.build(&tc, &root).unwrap();
    assert!(!again.rebuilt, "an up-to-date build ran again");
    std::fs::write(dir.join("src/prog.sh"), "echo done  $1\n").unwrap();
    assert!(peer.build(&tc, &root).unwrap().rebuilt);
    let newer = Toolchain {
        version: "sh 2.0".into(),
        others: Vec::new(),
        tool: None,
    };
    assert!(peer.build(&newer, &root).unwrap().rebuilt);
    let other_compiler = Toolchain {
        others: vec!["cc 2".into()],
        ..newer
    };
    assert!(peer.build(&other_compiler, &root).unwrap().rebuilt);
    assert!(!peer.build(&other_compiler, &root).unwrap().rebuilt);
    let count = std::fs::read_to_string(root.join("sh/sleep/count")).unwrap();
    assert_eq!(count.lines().count(), 4);

    let run = child::run_measured(
        again.command(3, Duration::from_millis(1)),
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(run.stdout.trim(), "done 3");
}

#[test]
fn a_failed_build_is_one_line_with_its_log() {
    let dir = tmp_dir("buildfail");
    let text = GOOD.replace(
        r#"build = [["sh", "-c", "echo built >> {build}/count; cp {src}/prog.sh {build}/prog.sh"]]"#,
        r#"build = [["sh", "-c", "echo compiling; echo 'main.x:3: syntax error' >&2; exit 1"]]"#,
    );
    let m = parse(&text, &dir).unwrap();
    let tc = Toolchain {
        version: "sh".into(),
        others: Vec::new(),
        tool: None,
    };
    let err = m.peers[0].build(&tc, &dir.join("target")).unwrap_err();
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(
        err.starts_with("sh/sleep: build failed: `sh -c echo compiling;"),
        "{err}"
    );
    assert!(
        err.contains("exited with code 1: main.x:3: syntax error"),
        "{err}"
    );
    let log = std::fs::read_to_string(dir.join("target/sh/sleep/build.log")).unwrap();
    assert!(log.contains("compiling"), "{log}");
    // No stamp: the next call tries again.
    assert!(!dir.join("target/sh/sleep").join(STAMP).exists());
}

#[test]
fn a_missing_toolchain_is_not_installed_with_the_hint() {
    let dir = tmp_dir("missing");
    let text = GOOD.replace(
        r#"check = [["sh", "-c", "echo sh 1.0"]]"#,
        r#"check = [["taskmem-no-such-compiler", "--version"]]"#,
    );
    let m = parse(&text, &dir).unwrap();
    match m.peers[0].detect() {
        Status::NotInstalled { missing, hint } => {
            assert!(
                missing.starts_with("cannot run `taskmem-no-such-compiler --version`"),
                "{missing}"
            );
            assert_eq!(hint, "apt-get install dash");
        }
        ready => panic!("{ready:?}"),
    }
    let prepared = m.peers[0].prepare(&dir.join("target")).unwrap();
    assert!(
        matches!(prepared, Prepared::NotInstalled { .. }),
        "{prepared:?}"
    );
    assert!(
        !dir.join("target").exists(),
        "built a peer that is not installed"
    );
}

#[test]
fn locate_prints_the_tool_and_a_failing_locate_is_not_installed() {
    let dir = tmp_dir("locate");
    let text = GOOD
        .replace(
            r#"check = [["sh", "-c", "echo sh 1.0"]]"#,
            "locate = [\"sh\", \"-c\", \"echo /bin/sh\"]\ncheck = [[\"{tool}\", \"-c\", \"echo v9\"]]",
        )
        .replace(r#"run = ["sh","#, r#"run = ["{tool}","#);
    let m = parse(&text, &dir).unwrap();
    assert_eq!(
        m.peers[0].detect(),
        Status::Ready(Toolchain {
            version: "v9".into(),
            others: Vec::new(),
            tool: Some("/bin/sh".into())
        })
    );
    let text = text.replace("echo /bin/sh", "echo no java here >&2; exit 1");
    let m = parse(&text, &dir).unwrap();
    match m.peers[0].detect() {
        Status::NotInstalled { missing, .. } => {
            assert!(
                missing.ends_with("exited with code 1: no java here"),
                "{missing}"
            )
        }
        ready => panic!("{ready:?}"),
    }
}

#[test]
fn thread_peers_are_bounded_by_the_machines_thread_limits() {
    let m = Manifest::load_default().unwrap();
    let threads = m.get("python/threads").unwrap();
    let err = threads.check_limits(100_000_000).unwrap_err();
    assert!(err.contains("100000000 OS threads exceed"), "{err}");
    assert!(threads.check_limits(10).is_ok());
    let go = m.get("go/goroutines").unwrap();
    assert!(go.check_limits(1000).is_ok());
    // No thread limit for goroutines, but memory: 100M at 8 KiB each is past any machine's.
    let err = go.check_limits(100_000_000).unwrap_err();
    assert!(
        err.contains("go/goroutines at N = 100000000 needs about"),
        "{err}"
    );
}

#[test]
fn the_done_line_is_read_and_a_slow_spawn_is_flagged() {
    let done = Done::parse("starting\ndone 1000000 spawn_ms=12500\n\n").unwrap();
    assert_eq!(
        done,
        Done {
            n: 1_000_000,
            spawn: Duration::from_millis(12_500)
        }
    );
    let warning = done.overlap_warning(Duration::from_secs(10)).unwrap();
    assert!(
        warning
            .starts_with("starting the 1000000 tasks took 12500 ms, at least the 10000 ms sleep"),
        "{warning}"
    );
    assert_eq!(done.overlap_warning(Duration::from_secs(20)), None);
    for bad in [
        "",
        "done 10",
        "done ten spawn_ms=1",
        "done 10 spawn=1",
        "done 10 spawn_ms=1 x",
    ] {
        let err = Done::parse(bad).unwrap_err();
        assert!(err.starts_with("expected `done N spawn_ms=MS`"), "{err}");
    }
}

#[test]
fn an_unknown_peer_lists_the_valid_ones() {
    let m = Manifest::load_default().unwrap();
    let err = m.get("rust/smol").unwrap_err();
    assert!(
        err.starts_with(
            "unknown peer 'rust/smol' (valid: rust/tokio, go/goroutines, node/promises,"
        ),
        "{err}"
    );
}

#[test]
fn a_malformed_manifest_is_one_line() {
    assert!(
        parse_err("[[peer]\nid = 1")
            .contains("is not a valid peers manifest: line 1: unclosed array table")
    );
    assert!(
        parse_err(&GOOD.replace("label =", "lable =")).contains("line 4: unknown field `lable`")
    );
    assert!(
        parse_err(&GOOD.replace("install = \"apt-get install dash\"", ""))
            .contains("missing field `install`")
    );
    assert!(parse_err("").contains("missing field `peer`"));
    assert!(parse_err("peer = []").contains("no [[peer]]"));
    assert!(
        parse_err(&GOOD.replace("sh/sleep", "Sleep"))
            .contains("peer 'Sleep': id is not 'language/variant'")
    );
    assert!(
        parse_err(&GOOD.replace("dir = \"src\"", "dir = \"nowhere\""))
            .contains("peer 'sh/sleep': dir '")
    );
    assert!(
        parse_err(&GOOD.replace("{procs}", "{proc}"))
            .contains("run uses unknown placeholder {proc} (valid there: {build}, {n}, {peers}, {procs}, {sleep_ms}, {src})")
    );
    assert!(
        parse_err(&GOOD.replace("\"{sleep_ms}\", ", "")).contains("run does not pass {sleep_ms}")
    );
    assert!(
        parse_err(&GOOD.replace("echo sh 1.0", "echo {build}"))
            .contains("check uses unknown placeholder {build}")
    );
    assert!(
        parse_err(&GOOD.replace("echo sh 1.0", "echo {n}"))
            .contains("check uses unknown placeholder {n} (valid there: {peers}, {src})")
    );
    assert!(
        parse_err(&GOOD.replace("{build}/prog.sh\",", "{build/prog.sh\","))
            .contains("run: '{build/prog.sh' has a '{' without its '}'")
    );
    assert!(
        parse_err(&GOOD.replace("run = [\"sh\",", "run = [\"\","))
            .contains("run has an empty command")
    );
    let twice = format!("{GOOD}\n{GOOD}");
    assert!(parse_err(&twice).contains("peer id 'sh/sleep' appears twice"));
}
