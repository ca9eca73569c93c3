//! `brokerflow import --format mcf`, run as a user would: the built binary.

use brokerflow_graphs::Market;

use crate::util::{assert_ok, path, run as brokerflow, temp_dir};

/// The MCF benchmark `name` bundled under graphs/markets/mcf/.
fn benchmark(name: &str) -> String {
    path(&format!("graphs/markets/mcf/{name}"))
}

/// `import` of the benchmark `file` writes a market with `brokers` and `users` that
/// loads and names where it came from.
fn imports_and_loads(file: &str, brokers: usize, users: usize) {
    let dir = temp_dir(&format!("ok-{file}"));
    let out_path = dir.join(file.replace(".txt", ".json"));
    let out = brokerflow(&[
        "import",
        "--format",
        "mcf",
        &benchmark(file),
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert_ok(&out, "");
    assert!(out.stdout.is_empty(), "with -o nothing goes to stdout");
    let market = Market::load(&out_path).unwrap();
    assert_eq!(market.brokers.len(), brokers);
    assert_eq!(market.users.len(), users);
    let meta = market.meta.clone().unwrap();
    assert_eq!(meta["imported_from"], file);
    assert_eq!(meta["format"], "mcf");
    std::fs::remove_dir_all(&dir).unwrap();
}

cases!(import_writes_a_market_file_that_loads, imports_and_loads, {
    grid1: ("grid1.txt", 25, 50),
    planar30: ("planar30.txt", 30, 92),
});

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
    let dir = temp_dir("bad");
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

    std::fs::remove_dir_all(&dir).unwrap();
}

/// `import` of a file that is not text at all, or missing: one line, no output.
fn unreadable_refused(tag: &str, not_text: bool) {
    let dir = temp_dir(tag);
    let path = dir.join(if not_text { "bad.txt" } else { "missing.txt" });
    if not_text {
        std::fs::write(&path, b"p mcf 2 0 0\n\xff\xfe\n").unwrap();
    }
    let out = brokerflow(&["import", "--format", "mcf", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

cases!(an_unreadable_file_gives_a_one_line_message_and_no_output, unreadable_refused, {
    not_text: ("not-text", true),
    missing: ("missing", false),
});

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
    let dir = temp_dir("sndlib");
    let file = path("graphs/markets/sndlib/abilene.txt");
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
    assert_ok(&out, "");
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
