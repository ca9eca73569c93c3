//! `--dot` and `--report` of `solve`, `run` and `compare`: the routing drawn with its
//! flows and saturated resources (tiny.md's hand optimum), and the HTML report
//! rendered in real headless Chromium — it loads without a console message (its
//! content security policy turns any network fetch into one) and shows the numbers
//! of tiny.md or of the same command's JSON output.
//!
//! Without Chromium the rendering tests skip with a message, unless
//! `BROKERFLOW_REQUIRE_CHROMIUM=1` (as CI sets it), where they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{assert_ok, market, ok, run, scratch};

/// Headless Chromium, if installed; `None` only where CI does not require it.
fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("BROKERFLOW_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "BROKERFLOW_REQUIRE_CHROMIUM=1 but no Chromium at /usr/bin/chromium (apt-get install chromium)"
        );
        eprintln!("skipped: no Chromium at /usr/bin/chromium (apt-get install chromium)");
    }
    found
}

/// The page as Chromium's DOM after loading `html`, and every console message the
/// page produced (a blocked fetch, a parse error of a script, …).
fn render(chromium: &Path, html: &str) -> (String, Vec<String>) {
    let profile = scratch(&format!(
        "chromium-profile-{}",
        Path::new(html).file_name().unwrap().to_string_lossy()
    ));
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--user-data-dir={profile}"),
            "--dump-dom",
            &format!("file://{html}"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium failed on {html}");
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (String::from_utf8(out.stdout).unwrap(), console)
}

/// The text of every cell of the table `id`, row by row.
fn table(dom: &str, id: &str) -> Vec<Vec<String>> {
    let start = dom
        .find(&format!("<table id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no table {id}"));
    let body = &dom[start..start + dom[start..].find("</table>").unwrap()];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td>")
                .skip(1)
                .map(|c| c[..c.find("</td>").unwrap()].to_string())
                .collect::<Vec<_>>()
        })
        .filter(|r| !r.is_empty())
        .collect()
}

/// Asserts a report is self-contained: nothing it could fetch, no script.
fn assert_self_contained(html: &str) {
    let text = std::fs::read_to_string(html).unwrap();
    for forbidden in ["http:", "https:", "<script", "src=", "@import", "<link"] {
        assert!(!text.contains(forbidden), "{html} contains {forbidden}");
    }
    assert!(
        text.split("url(").skip(1).all(|s| s.starts_with('#')),
        "{html} refers to something outside itself"
    );
}

fn line<'a>(dot: &'a str, edge: &str) -> &'a str {
    dot.lines()
        .find(|l| l.trim_start().starts_with(edge))
        .unwrap_or_else(|| panic!("no {edge} in {dot}"))
}

#[test]
fn solve_dot_draws_the_hand_optimum_with_its_binding_resources() {
    let dot = scratch("p3.dot");
    ok(&[
        "solve",
        &market("tiny"),
        "--objective",
        "welfare",
        "--dot",
        &dot,
    ]);
    let dot = std::fs::read_to_string(dot).unwrap();
    // tiny.md §7: u1->b1 5/5, p1 15/15 and b1->b2 8/8 bind; b2->p2 8/15, p2 16/19
    // are slack; u3 is dropped; b1 -> p1 carries u1's 5 and u2's 5.
    let full = "color=red";
    assert!(line(&dot, "\"u1\" -> \"b1\"").contains("label=\"5 of 5\""));
    assert!(line(&dot, "\"u1\" -> \"b1\"").contains(full));
    assert!(line(&dot, "\"b1\" -> \"b2\"").contains("8 of 8"));
    assert!(line(&dot, "\"b1\" -> \"b2\"").contains(full));
    assert!(line(&dot, "\"b2\" -> \"p2\"").contains("8 of 15"));
    assert!(!line(&dot, "\"b2\" -> \"p2\"").contains(full));
    assert!(line(&dot, "\"b1\" -> \"p1\"").contains("label=\"10\\nu1 5\\nu2 5\""));
    assert!(line(&dot, "\"u3\" -> \"b2\"").contains("style=dashed"));
    assert!(line(&dot, "\"p1\" [").contains("uses 15 of 15"));
    assert!(line(&dot, "\"p1\" [").contains(full));
    assert!(line(&dot, "\"p2\" [").contains("uses 16 of 19"));
    assert!(!line(&dot, "\"p2\" [").contains(full));
    assert!(line(&dot, "\"u2\" [").contains("served 13 of 20"));
}

/// `solve --objective welfare` on tiny, its report written to `html`.
fn solve_report(html: &str) -> Output {
    ok(&[
        "solve",
        &market("tiny"),
        "--objective",
        "welfare",
        "--report",
        html,
    ])
}

#[test]
fn solve_report_shows_the_hand_optimum_in_chromium() {
    let html = scratch("solve.html");
    solve_report(&html);
    assert_self_contained(&html);
    let Some(chromium) = chromium() else { return };
    let (dom, console) = render(&chromium, &html);
    assert!(console.is_empty(), "console messages: {console:?}");
    // tiny.md §7: W = 141, served u1 5, u2 13, u3 0; prices u1->b1 16, p1 3, b1->b2 2.
    assert_eq!(table(&dom, "methods")[0][3], "141.0000");
    let served = table(&dom, "served-welfare");
    let served: Vec<(&str, &str)> = served.iter().map(|r| (&*r[0], &*r[1])).collect();
    assert_eq!(
        served,
        [("u1", "5.0000"), ("u2", "13.0000"), ("u3", "0.0000")]
    );
    let prices = table(&dom, "prices");
    let price = |n: &str| prices.iter().find(|r| r[0] == n).unwrap()[1].clone();
    assert_eq!(
        (
            price("u1-&gt;b1"),
            price("p1"),
            price("b1-&gt;b2"),
            price("b2")
        ),
        (
            "16.0000".into(),
            "3.0000".into(),
            "2.0000".into(),
            "0.0000".into()
        )
    );
    // The drawing is in the page: one box per participant, one path per link.
    assert_eq!(dom.matches("<g class=\"").count(), 3 + 2 + 2);
    assert_eq!(dom.matches("<path class=\"link").count(), 6);
}

#[test]
fn the_chromium_check_sees_a_fetch() {
    let html = scratch("fetching.html");
    let out = solve_report(&html);
    assert!(out.status.success());
    let Some(chromium) = chromium() else { return };
    let text = std::fs::read_to_string(&html).unwrap();
    std::fs::write(
        &html,
        text.replace("</body>", "<img src=\"http://127.0.0.1:9/x.png\"></body>"),
    )
    .unwrap();
    let (_, console) = render(&chromium, &html);
    assert_eq!(console.len(), 1, "{console:?}");
}

/// `run --json` without its wall-clock field.
fn run_json(args: &[&str]) -> serde_json::Value {
    let out = run(args);
    assert_ok(&out, "");
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_object_mut().unwrap().remove("seconds");
    v
}

#[test]
fn run_report_shows_the_runs_own_numbers_and_changes_nothing_else() {
    let (html, dot) = (scratch("run.html"), scratch("run.dot"));
    let tiny = market("tiny");
    let plain = run_json(&["run", &tiny, "--json"]);
    let pictured = run_json(&["run", &tiny, "--json", "--report", &html, "--dot", &dot]);
    // The report's observers read the engine, never change it.
    assert_eq!(plain, pictured);
    assert_self_contained(&html);
    let Some(chromium) = chromium() else { return };
    let (dom, console) = render(&chromium, &html);
    assert!(console.is_empty(), "console messages: {console:?}");
    let row = &table(&dom, "methods")[0];
    let fixed4 = |x: &serde_json::Value| format!("{:.4}", x.as_f64().unwrap());
    assert_eq!(row[2], plain["rounds"].to_string());
    assert_eq!(row[3], fixed4(&plain["welfare"]));
    let served = table(&dom, "served");
    for r in &served {
        assert_eq!(r[1], fixed4(&plain["served"][&r[0]]), "user {}", r[0]);
    }
    // Two curves: the window welfare, then served per user with its demand.
    assert_eq!(dom.matches("<polyline").count(), 1 + 2 * 3);
}

#[test]
fn compare_report_has_a_row_and_a_routing_per_method() {
    let html = scratch("compare.html");
    let methods = "lp/welfare,lp/utility,welfare-seeking/demand,fair/feasible";
    let out = run(&[
        "compare",
        &market("tiny"),
        "--methods",
        methods,
        "--json",
        "--report",
        &html,
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_self_contained(&html);
    let Some(chromium) = chromium() else { return };
    let (dom, console) = render(&chromium, &html);
    assert!(console.is_empty(), "console messages: {console:?}");
    let rows = table(&dom, "methods");
    assert_eq!(rows.len(), 4);
    for (row, (label, j)) in rows
        .iter()
        .zip(methods.split(',').zip(json["rows"].as_array().unwrap()))
    {
        assert_eq!(row[0], label);
        assert_eq!(row[1], format!("{:.4}", j["welfare"].as_f64().unwrap()));
    }
    // tiny.md: P3 141, P2 130.
    assert_eq!((&*rows[0][1], &*rows[1][1]), ("141.0000", "130.0000"));
    assert_eq!(dom.matches("<h2>Routing: ").count(), 4);
    assert_eq!(dom.matches("<h2>Convergence: ").count(), 2);
}
