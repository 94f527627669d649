//! `sendsim run --report`: the page opens in headless Chromium with its headings, its
//! tables and every plot decoded. Without a browser the test is skipped, except under
//! `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's `chromium` (or the one named by SENDSIM_CHROMIUM).
fn browser() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SENDSIM_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// The browser; without one the test is skipped, except under CI=true.
fn browser_or_skip() -> Option<PathBuf> {
    let b = browser();
    if b.is_none() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI=true but no chromium: install Debian's chromium (apt-get install chromium)"
        );
        eprintln!("skipped: no chromium on PATH (SENDSIM_CHROMIUM names another)");
    }
    b
}

/// Opens `page` with a probe that, once the page has loaded, lists its headings, its
/// tables' row counts and each image's decoded size; returns the probe's JSON.
fn open(browser: &Path, page: &Path, profile: &Path) -> serde_json::Value {
    let html = std::fs::read_to_string(page).unwrap();
    let probe = "<script>window.addEventListener('load',()=>{const p=document.createElement('pre');p.id='probe';\
p.textContent=JSON.stringify({heads:[...document.querySelectorAll('h1,h2')].map(h=>h.textContent),\
tables:[...document.querySelectorAll('table')].map(t=>t.rows.length),\
imgs:[...document.images].map(i=>[i.complete,i.naturalWidth,i.naturalHeight]),\
text:document.body.innerText.length});document.body.appendChild(p);});</script></body>";
    let probed = page.with_extension("probe.html");
    std::fs::write(&probed, html.replace("</body>", probe)).unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", probed.display()))
        .output()
        .expect("the browser starts");
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("<pre id=\"probe\">").unwrap_or_else(|| {
        panic!(
            "no probe in the page: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    }) + "<pre id=\"probe\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let json = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap()
}

#[test]
fn the_report_renders_in_a_browser_with_its_headings_tables_and_plots() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("sendsim-report-{}", std::process::id()));
    let dir_arg = dir.display().to_string();
    crate::support::sendsim_ok([
        "run",
        "--report",
        "--quiet",
        "--notifications",
        "10000",
        "--replications",
        "2",
        "--out",
        &dir_arg,
    ]);
    let page = dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing is fetched from elsewhere.
    for attr in ["src=\"http", "href=\"http", "src=\"/", "url("] {
        assert!(!html.contains(attr), "{attr} in the page");
    }
    // The headline figure is the one in summary.json.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let digital = summary["kpis"]["digital_share"]["send"]["mean"]
        .as_f64()
        .unwrap();
    assert!(html.contains(&format!("{:.1}%", digital * 100.0)));

    let profile = dir.join("profile");
    let seen = open(&browser, &page, &profile);
    let heads: Vec<&str> = seen["heads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(
        heads,
        [
            "SEND against the all-paper process: default",
            "Headline figures",
            "Cash in",
            "Time to payment",
            "Where recipients ended",
            "What a notification costs",
            "Every KPI",
            "Scenario parameters",
            "Sources",
            "Reproduce",
        ]
    );
    let imgs = seen["imgs"].as_array().unwrap();
    assert_eq!(imgs.len(), 4);
    for i in imgs {
        assert_eq!(
            i,
            &serde_json::json!([true, 1000, 600]),
            "an image did not decode"
        );
    }
    let rows: Vec<u64> = seen["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap())
        .collect();
    assert_eq!(rows[0], 6, "headline table: a header and 5 KPIs");
    assert_eq!(rows[2], 16, "every KPI: a header and 15 KPIs");
    assert!(rows[3] > 150, "every parameter: {}", rows[3]);

    // The probe tells a broken image: a page whose plot data is cut decodes nothing.
    let broken = dir.join("broken.html");
    std::fs::write(
        &broken,
        html.replacen(
            "data:image/png;base64,iVBOR",
            "data:image/png;base64,AAAA",
            1,
        ),
    )
    .unwrap();
    let seen = open(&browser, &broken, &profile);
    assert_eq!(seen["imgs"][0][1], 0, "a broken image has no width");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `sendsim ARGS --report --out DIR` and opens its page: the headings and the
/// decoded images.
fn report_of(browser: &Path, args: &[&str], name: &str) -> (Vec<String>, Vec<serde_json::Value>) {
    let dir = std::env::temp_dir().join(format!("sendsim-report-{name}-{}", std::process::id()));
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(["--report", "--quiet", "--out"].map(String::from));
    all.push(dir.display().to_string());
    crate::support::sendsim_ok(&all);
    let seen = open(browser, &dir.join("report.html"), &dir.join("profile"));
    let heads = seen["heads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    let imgs = seen["imgs"].as_array().unwrap().clone();
    let _ = std::fs::remove_dir_all(&dir);
    (heads, imgs)
}

#[test]
fn comparison_and_projection_reports_render_too() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (heads, imgs) = report_of(
        &browser,
        &[
            "compare",
            root.join("scenarios/default.toml").to_str().unwrap(),
            root.join("scenarios/io-doubled.toml").to_str().unwrap(),
            "--notifications",
            "2000",
            "--replications",
            "2",
        ],
        "compare",
    );
    assert_eq!(
        heads,
        [
            "Scenarios compared: default vs io-doubled",
            "Headline figures",
            "Cash in",
            "Where recipients ended",
            "Every KPI",
            "Scenarios",
            "Reproduce"
        ]
    );
    assert_eq!(imgs.len(), 2);
    assert!(
        imgs.iter()
            .all(|i| i == &serde_json::json!([true, 1000, 600]))
    );

    let (heads, imgs) = report_of(
        &browser,
        &["project", "--months", "27", "--sample", "100"],
        "project",
    );
    assert_eq!(heads[0], "Adoption projection: adoption");
    for h in [
        "Years against the public series",
        "Notifications per month",
        "Digital share",
        "The programme",
        "Scenario parameters",
        "Sources",
    ] {
        assert!(heads.iter().any(|x| x == h), "{h} in {heads:?}");
    }
    assert_eq!(imgs.len(), 5);
    assert!(
        imgs.iter()
            .all(|i| i == &serde_json::json!([true, 1000, 600]))
    );
}
