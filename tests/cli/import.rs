//! `brokerflow import --format mcf`, run as a user would: the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use brokerflow_graphs::Market;

fn brokerflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brokerflow"))
        .args(args)
        .output()
        .expect("run brokerflow")
}

fn benchmark(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("graphs/markets/mcf")
        .join(name)
        .display()
        .to_string()
}

/// A scratch directory of this test process.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "brokerflow-cli-import-{}-{test}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn import_writes_a_market_file_that_loads() {
    let dir = scratch("ok");
    for (file, brokers, users) in [("grid1.txt", 25, 50), ("planar30.txt", 30, 92)] {
        let out_path = dir.join(file.replace(".txt", ".json"));
        let out = brokerflow(&[
            "import",
            "--format",
            "mcf",
            &benchmark(file),
            "-o",
            out_path.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "with -o nothing goes to stdout");
        let market = Market::load(&out_path).unwrap();
        assert_eq!(market.brokers.len(), brokers);
        assert_eq!(market.users.len(), users);
        let meta = market.meta.clone().unwrap();
        assert_eq!(meta["imported_from"], file);
        assert_eq!(meta["format"], "mcf");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn import_without_output_prints_the_market() {
    let out = brokerflow(&["import", "--format", "mcf", &benchmark("grid1.txt")]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let market = Market::from_json_str(&text, "stdout").unwrap();
    assert_eq!(market.name, "grid1");
    assert_eq!(market.links.len(), 80 + 50 + market.providers.len());
}

#[test]
fn a_bad_file_gives_a_one_line_message_and_no_output() {
    let dir = scratch("bad");
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, "p mcf 2 1 1\nk 0 1 5\na 0 7 1 1\n").unwrap();
    let out_path = dir.join("out.json");
    let out = brokerflow(&[
        "import",
        "--format",
        "mcf",
        bad.to_str().unwrap(),
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("bad.txt: line 3: "), "{err}");
    assert!(err.contains("out of range"), "{err}");
    assert!(!out_path.exists(), "no output file on failure");

    // Not text at all, and a missing file.
    std::fs::write(&bad, b"p mcf 2 0 0\n\xff\xfe\n").unwrap();
    for path in [bad.clone(), dir.join("missing.txt")] {
        let out = brokerflow(&["import", "--format", "mcf", path.to_str().unwrap()]);
        assert!(!out.status.success());
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_explains_the_mapping() {
    let out = brokerflow(&["import", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for words in ["p mcf", "broker", "provider", "mcf"] {
        assert!(help.contains(words), "{words:?} missing from:\n{help}");
    }
}

#[test]
fn sndlib_import_of_abilene_and_its_refusals() {
    let dir = scratch("sndlib");
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("graphs/markets/sndlib/abilene.txt")
        .display()
        .to_string();
    let out_path = dir.join("abilene.json");
    let out = brokerflow(&[
        "import",
        "--format",
        "sndlib",
        "--max-demands",
        "32",
        &file,
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let market = Market::load(&out_path).unwrap();
    // 12 PoPs; 15 links both ways, one link per user, one per data centre.
    assert_eq!((market.brokers.len(), market.users.len()), (12, 32));
    assert_eq!(
        market.links.len(),
        30 + 32 + market.providers.len(),
        "{:?}",
        market.providers
    );
    assert_eq!(market.meta.clone().unwrap()["format"], "sndlib");

    // A link to a node NODES does not list: one line naming the file and the line.
    let bad = dir.join("bad.txt");
    std::fs::write(
        &bad,
        "NODES (\n a ( 0 0 )\n)\nLINKS (\n l ( a z ) 1 0 0 0 ( )\n)\nDEMANDS (\n)\n",
    )
    .unwrap();
    let out = brokerflow(&["import", "--format", "sndlib", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bad.txt: line 5: "), "{err}");
    assert!(err.contains("\"z\" is not a node"), "{err}");
    // --max-demands belongs to sndlib.
    let out = brokerflow(&[
        "import",
        "--format",
        "mcf",
        "--max-demands",
        "3",
        &benchmark("grid1.txt"),
    ]);
    assert!(!out.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}
