//! Scenario files: the shipped ones validate and run; each kind of mistake is refused
//! with the file, the field path and what was expected.

use std::path::PathBuf;

use sim::Scenario;
use sim::scenario::ScenarioError;

use crate::support::run;

fn shipped() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 2,
        "scenarios/ holds the default and examples"
    );
    files
}

#[test]
fn every_shipped_scenario_validates_and_runs() {
    for f in shipped() {
        let s = Scenario::load(&f).unwrap_or_else(|e| panic!("{e}"));
        let m = sim::Model::new(s).unwrap();
        let t = run(&m, 1, 1, 500, 2);
        assert!(t[0].send.recipients >= 500, "{}", f.display());
    }
}

#[test]
fn the_default_file_is_the_built_in_default() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/default.toml");
    assert_eq!(Scenario::load(&path).unwrap(), Scenario::builtin_default());
}

fn problem(text: &str) -> (String, String) {
    match Scenario::from_toml_str(text, "bad.toml") {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => {
            let shown = e.to_string();
            assert!(
                shown.starts_with("bad.toml: "),
                "error does not name the file: {shown}"
            );
            match e {
                ScenarioError::Invalid { problems, .. } => {
                    (problems[0].path.clone(), problems[0].message.clone())
                }
                ScenarioError::Syntax { message, .. } => ("(syntax)".into(), message),
                ScenarioError::Io { .. } | ScenarioError::Compose { .. } => unreachable!(),
            }
        }
    }
}

#[test]
fn unknown_field_is_refused_with_the_allowed_names() {
    let (path, msg) = problem("[pec]\nworking_box = 0.5\n");
    assert_eq!(path, "pec.working_box");
    assert!(
        msg.contains("unknown field `working_box`") && msg.contains("working_box_share"),
        "{msg}"
    );
}

#[test]
fn wrong_type_is_refused() {
    let (path, msg) = problem("horizon_days = \"ten\"\n");
    assert_eq!(path, "horizon_days");
    assert!(msg.contains("invalid type") && msg.contains("u32"), "{msg}");
}

#[test]
fn probability_outside_0_1_is_refused() {
    let (path, msg) = problem("[pec]\nworking_box_share = 1.5\n");
    assert_eq!(path, "pec.working_box_share");
    assert!(
        msg.contains("probability between 0 and 1") && msg.contains("1.5"),
        "{msg}"
    );
}

#[test]
fn shares_that_do_not_add_up_are_refused() {
    let (path, msg) = problem("[recipients.zone_shares]\nAM = 0.5\n");
    assert_eq!(path, "recipients.zone_shares");
    assert!(msg.contains("add up to 1"), "{msg}");
    let (path, _) = problem(
        "[[acts]]\nname = \"a\"\nshare = 0.5\nhas_payment_notice = false\namount_cents = { kind = \"constant\", value = 0.0 }\nreduction_share = 0.0\nreduced_within_days = 0.0\ndue_days = 60.0\nlate_surcharge_share = 0.0\nphysical_communication_type = \"AR_REGISTERED_LETTER\"\nfee_policy = \"FLAT_RATE\"\napply_cost = false\npa_fee_cents = 100\nvat_percent = 22\nflat_rate_charge_cents = 0\nsheets = { kind = \"constant\", value = 2.0 }\npay_propensity = 0.0\nbaseline_charge_cents = 0\n",
    );
    assert_eq!(path, "acts[].share");
}

#[test]
fn impossible_distribution_parameters_are_refused() {
    let (path, msg) =
        problem("[paper]\npickup_days = { kind = \"lognormal\", median = -1.0, sigma = 0.5 }\n");
    assert_eq!(path, "paper.pickup_days");
    assert!(
        msg.contains("median") && msg.contains("greater than 0"),
        "{msg}"
    );
    let (path, msg) = problem("[paper]\npickup_days = { kind = \"poisson\", mean = 3.0 }\n");
    assert_eq!(path, "paper.pickup_days.kind");
    assert!(
        msg.contains("unknown variant `poisson`") && msg.contains("lognormal"),
        "{msg}"
    );
    let (_, msg) =
        problem("[paper]\npickup_days = { kind = \"uniform\", min = -2.0, max = 3.0 }\n");
    assert!(msg.contains("below 0"), "{msg}");
}

#[test]
fn bad_enum_values_and_dates_are_refused() {
    let (path, msg) = problem("[validation.refusal_reasons]\nBAD_CODE = 1.0\n");
    assert_eq!(path, "validation.refusal_reasons.BAD_CODE");
    assert!(msg.contains("FILE_SHA_ERROR"), "{msg}");
    let (path, msg) = problem("start = \"2025-03-30T02:30:00\"\n");
    assert_eq!(path, "start");
    assert!(msg.contains("Europe/Rome"), "{msg}");
}

#[test]
fn syntax_errors_name_the_file() {
    let (path, _) = problem("horizon_days = \n");
    assert_eq!(path, "(syntax)");
}

#[test]
fn every_problem_is_reported_at_once() {
    let e = Scenario::from_toml_str(
        "[pec]\nworking_box_share = 2.0\nsecond_round_success_share = -1.0\n",
        "bad.toml",
    )
    .unwrap_err();
    assert_eq!(e.problems().len(), 2);
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sendsim-compose-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_file_extends_another_and_overrides_what_it_states() {
    let dir = scratch("extends");
    let io = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/io-doubled.toml");
    std::fs::write(
        dir.join("child.toml"),
        format!(
            "extends = {:?}\nname = \"child\"\n[arrivals]\nwindow_days = 10\n",
            io.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("grandchild.toml"),
        "extends = \"child.toml\"\nnotifications = 777\n",
    )
    .unwrap();
    let s = Scenario::load(&dir.join("grandchild.toml")).unwrap();
    let base = Scenario::load(&io).unwrap();
    assert_eq!(s.name, "child");
    assert_eq!(s.notifications, 777);
    assert_eq!(s.arrivals.window_days, 10.0);
    // What neither file states comes from io-doubled, then the default.
    assert_eq!(
        s.recipients.citizen.io_send_enabled_share,
        base.recipients.citizen.io_send_enabled_share
    );
    // A circle is refused, naming the files.
    std::fs::write(dir.join("a.toml"), "extends = \"b.toml\"\n").unwrap();
    std::fs::write(dir.join("b.toml"), "extends = \"a.toml\"\n").unwrap();
    let e = Scenario::load(&dir.join("a.toml")).unwrap_err().to_string();
    assert!(
        e.contains("circle") && e.contains("a.toml") && e.contains("b.toml"),
        "{e}"
    );
    // A missing base names the file that extends it.
    std::fs::write(dir.join("c.toml"), "extends = \"nowhere.toml\"\n").unwrap();
    let e = Scenario::load(&dir.join("c.toml")).unwrap_err().to_string();
    assert!(
        e.contains("nowhere.toml") && e.contains("extended by"),
        "{e}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn set_overrides_any_parameter_with_the_files_validation() {
    let sets = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let s = Scenario::compose(
        None,
        &sets(&[
            "arrivals.window_days=20",
            "name=with-sets",
            "acts[0].amount_cents={ kind = \"constant\", value = 5000 }",
        ]),
    )
    .unwrap();
    assert_eq!(s.arrivals.window_days, 20.0);
    assert_eq!(s.name, "with-sets");
    assert_ne!(s, Scenario::builtin_default());
    // The same checks as a file, naming the field and what is allowed.
    let e = Scenario::compose(None, &sets(&["arrivals.window_days=-1"])).unwrap_err();
    assert_eq!(e.problems()[0].path, "arrivals.window_days");
    assert!(
        e.to_string().contains("--set arrivals.window_days=-1"),
        "{e}"
    );
    let e = Scenario::compose(None, &sets(&["arrivals.nope=1"]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown field `nope`") && e.contains("window_days"),
        "{e}"
    );
    let e = Scenario::compose(None, &sets(&["acts[99].share=1"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("index 99") && e.contains("elements"), "{e}");
    let e = Scenario::compose(None, &sets(&["seed"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("PATH=VALUE"), "{e}");
}
