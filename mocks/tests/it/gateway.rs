//! The API gateway: a burst passes, then 429 with the gateway's body, recovery at the
//! plan's rate, the daily quota, and 403 without a key.

use std::collections::HashMap;
use std::time::Duration;

use mocks::gateway::UsagePlan;

use crate::support::*;

async fn statuses(m: &Mock, n: usize, key: &str) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let (s, _, body) = m.call("GET", "/status", Some(key), None).await;
        out.push((s, body["message"].as_str().unwrap_or_default().to_string()));
    }
    out
}

#[tokio::test]
async fn a_burst_passes_then_429_until_the_rate_refills() {
    let plan = UsagePlan {
        rate_per_second: 20.0,
        burst: 10,
        daily_quota: 1000,
    };
    let m = start_with(21, true, HashMap::from([(KEY.to_string(), plan)])).await;
    let first = statuses(&m, 14, KEY).await;
    let passed = first.iter().filter(|(s, _)| *s == 200).count();
    // Ten from the burst, and perhaps one refilled while the calls ran.
    assert!((10..=11).contains(&passed), "{first:?}");
    let (s, msg) = first.last().unwrap();
    assert_eq!((*s, msg.as_str()), (429, "Too Many Requests"));
    // Another key has its own plan (here none).
    assert!(
        statuses(&m, 3, OTHER_KEY)
            .await
            .iter()
            .all(|(s, _)| *s == 200)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = statuses(&m, 4, KEY).await;
    assert!(
        later.iter().all(|(s, _)| *s == 200),
        "refilled at 20/s: {later:?}"
    );
}

#[tokio::test]
async fn the_daily_quota_ends_with_limit_exceeded_and_no_key_is_forbidden() {
    let plan = UsagePlan {
        rate_per_second: 1000.0,
        burst: 1000,
        daily_quota: 5,
    };
    let m = start_with(22, true, HashMap::from([(KEY.to_string(), plan)])).await;
    let all = statuses(&m, 7, KEY).await;
    assert_eq!(all.iter().filter(|(s, _)| *s == 200).count(), 5);
    assert_eq!(all[6], (429, "Limit Exceeded".to_string()));
    let (s, _, body) = m
        .call(
            "GET",
            "/delivery/v2.9/notifications/sent/ABCD-EFGH-IJKL-202603-A-1",
            None,
            None,
        )
        .await;
    assert_eq!((s, body["message"].as_str()), (403, Some("Forbidden")));
}
