//! `db::vendors::set_availability` against a real PostgreSQL: every pair of the
//! transition table, the incident rules of `busy`, and two vendors racing for one
//! incident.

mod common;

use ::vendors::{Availability, AvailabilityStatus, TransitionRefused};
use common::Db;
use lambdas::db::vendors::{self, AvailabilityChange};

/// The incident's (status, matched vendor).
async fn incident_state(db: &Db, id: &str) -> (String, Option<String>) {
    let row = db
        .pool
        .query_one(
            "SELECT status, matched_vendor_id FROM incidents WHERE id = $1",
            &[&id],
        )
        .await
        .expect("incident");
    (row.get(0), row.get(1))
}

/// Puts vendor `v1` into `state` (for busy: with `inc-a` matched to it).
async fn set_up(db: &Db, state: &Availability) {
    db.vendor("v1", &["tow"], 1.0, 1.0).await;
    db.incident("inc-a").await;
    db.incident("inc-b").await;
    if state.status != AvailabilityStatus::Available {
        let change = vendors::set_availability(&db.pool, "v1", state)
            .await
            .expect("set up");
        assert!(
            matches!(change, AvailabilityChange::Changed(_)),
            "{change:?}"
        );
    }
}

#[tokio::test]
async fn every_pair_of_the_table() {
    use AvailabilityStatus::{Available, Busy, Offline};
    let (available, offline) = (Availability::available(), Availability::offline());
    let (busy_a, busy_b) = (Availability::busy("inc-a"), Availability::busy("inc-b"));
    let cases: Vec<(&Availability, &Availability, Option<TransitionRefused>)> = vec![
        (&available, &available, None),
        (&available, &busy_a, None),
        (&available, &offline, None),
        (&busy_a, &available, None),
        (&busy_a, &busy_a, None),
        (
            &busy_a,
            &busy_b,
            Some(TransitionRefused::OtherIncident {
                current: "inc-a".into(),
            }),
        ),
        (&busy_a, &offline, None),
        (&offline, &available, None),
        (
            &offline,
            &busy_a,
            Some(TransitionRefused::Status {
                from: Offline,
                to: Busy,
            }),
        ),
        (&offline, &offline, None),
    ];
    for (from, to, refused) in cases {
        let db = Db::start().await;
        set_up(&db, from).await;
        let before = vendors::get(&db.pool, "v1")
            .await
            .expect("get")
            .expect("v1");
        assert_eq!(&before.availability, from);
        // The one table and this function agree.
        assert_eq!(
            from.check_transition(to).err(),
            refused,
            "{from:?} -> {to:?}"
        );
        let allowed = refused.is_none();
        let change = vendors::set_availability(&db.pool, "v1", to)
            .await
            .expect("change");
        let after = vendors::get(&db.pool, "v1")
            .await
            .expect("get")
            .expect("v1");
        match refused {
            Some(why) => {
                assert_eq!(
                    change,
                    AvailabilityChange::Refused {
                        current: before.clone(),
                        why
                    },
                    "{from:?} -> {to:?}"
                );
                assert_eq!(after, before, "nothing written");
            }
            None => {
                assert_eq!(change, AvailabilityChange::Changed(after.clone()));
                assert_eq!(&after.availability, to, "{from:?} -> {to:?}");
                let raised = if from == to { 0 } else { 1 };
                assert_eq!(after.version, before.version + raised, "{from:?} -> {to:?}");
            }
        }
        if from.status == Available && to.status == Busy {
            assert_eq!(
                incident_state(&db, "inc-a").await,
                ("matched".to_owned(), Some("v1".to_owned()))
            );
        }
        if from.status == Busy && allowed {
            // Leaving busy closes the vendor's side of the incident; staying keeps it.
            let (state, jobs) = match to.status {
                Busy => (("matched".to_owned(), Some("v1".to_owned())), 0),
                Available => (("completed".to_owned(), Some("v1".to_owned())), 1),
                Offline => (("pending".to_owned(), None), 0),
            };
            assert_eq!(
                incident_state(&db, "inc-a").await,
                state,
                "{from:?} -> {to:?}"
            );
            assert_eq!(
                after.metrics.completed_jobs,
                before.metrics.completed_jobs + jobs
            );
        }
        if to == &busy_b {
            assert_eq!(
                incident_state(&db, "inc-b").await,
                ("pending".to_owned(), None)
            );
        }
    }
}

#[tokio::test]
async fn busy_needs_an_incident_that_is_free_or_already_ours() {
    let db = Db::start().await;
    db.vendor("v1", &["tow"], 1.0, 1.0).await;
    db.vendor("v2", &["tow"], 1.0, 1.0).await;
    db.incident("inc-a").await;
    db.incident("inc-done").await;
    db.pool
        .execute(
            "UPDATE incidents SET status = 'completed' WHERE id = 'inc-done'",
            &[],
        )
        .await
        .expect("complete");
    assert_eq!(
        vendors::set_availability(&db.pool, "nobody", &Availability::offline())
            .await
            .expect("unknown vendor"),
        AvailabilityChange::NotFound
    );
    assert_eq!(
        vendors::set_availability(&db.pool, "v1", &Availability::busy("inc-missing"))
            .await
            .expect("unknown incident"),
        AvailabilityChange::NoSuchIncident
    );
    assert_eq!(
        vendors::set_availability(&db.pool, "v1", &Availability::busy("inc-done"))
            .await
            .expect("closed incident"),
        AvailabilityChange::IncidentClosed {
            status: "completed".into()
        }
    );
    assert!(matches!(
        vendors::set_availability(&db.pool, "v1", &Availability::busy("inc-a")).await,
        Ok(AvailabilityChange::Changed(_))
    ));
    assert_eq!(
        vendors::set_availability(&db.pool, "v2", &Availability::busy("inc-a"))
            .await
            .expect("taken"),
        AvailabilityChange::IncidentTaken { by: "v1".into() }
    );
    // v1 finishes: the incident is completed (not left matched to a vendor that may take
    // another job), so v2 cannot take it either.
    assert!(matches!(
        vendors::set_availability(&db.pool, "v1", &Availability::available()).await,
        Ok(AvailabilityChange::Changed(v)) if v.metrics.completed_jobs == 1
    ));
    assert_eq!(
        incident_state(&db, "inc-a").await,
        ("completed".to_owned(), Some("v1".to_owned()))
    );
    assert_eq!(
        vendors::set_availability(&db.pool, "v2", &Availability::busy("inc-a"))
            .await
            .expect("closed"),
        AvailabilityChange::IncidentClosed {
            status: "completed".into()
        }
    );
    // A vendor that drops a job (busy -> offline) hands the incident back: pending,
    // without a vendor, and another vendor may take it.
    db.incident("inc-dropped").await;
    assert!(matches!(
        vendors::set_availability(&db.pool, "v1", &Availability::busy("inc-dropped")).await,
        Ok(AvailabilityChange::Changed(_))
    ));
    assert!(matches!(
        vendors::set_availability(&db.pool, "v1", &Availability::offline()).await,
        Ok(AvailabilityChange::Changed(v)) if v.metrics.completed_jobs == 1
    ));
    assert_eq!(
        incident_state(&db, "inc-dropped").await,
        ("pending".to_owned(), None)
    );
    assert!(matches!(
        vendors::set_availability(&db.pool, "v2", &Availability::busy("inc-dropped")).await,
        Ok(AvailabilityChange::Changed(_))
    ));
    assert_eq!(
        incident_state(&db, "inc-dropped").await,
        ("matched".to_owned(), Some("v2".to_owned()))
    );
    let v2 = vendors::get(&db.pool, "v2")
        .await
        .expect("get")
        .expect("v2");
    assert_eq!(v2.availability, Availability::busy("inc-dropped"));
}

#[tokio::test]
async fn two_vendors_racing_for_one_incident_never_both_win() {
    let db = Db::start().await;
    for round in 0..40 {
        let (a, b, incident) = (
            format!("a-{round}"),
            format!("b-{round}"),
            format!("inc-{round}"),
        );
        db.vendor(&a, &["tow"], 1.0, 1.0).await;
        db.vendor(&b, &["tow"], 1.0, 1.0).await;
        db.incident(&incident).await;
        let busy = Availability::busy(incident.clone());
        let (ra, rb) = tokio::join!(
            vendors::set_availability(&db.pool, &a, &busy),
            vendors::set_availability(&db.pool, &b, &busy)
        );
        let (ra, rb) = (ra.expect("a"), rb.expect("b"));
        let winner = match (&ra, &rb) {
            (AvailabilityChange::Changed(_), AvailabilityChange::IncidentTaken { by }) => {
                assert_eq!(by, &a);
                a.clone()
            }
            (AvailabilityChange::IncidentTaken { by }, AvailabilityChange::Changed(_)) => {
                assert_eq!(by, &b);
                b.clone()
            }
            other => panic!("round {round}: {other:?}"),
        };
        let busy_vendors: i64 = db
            .pool
            .query_one(
                "SELECT count(*) FROM vendors WHERE current_incident_id = $1",
                &[&incident],
            )
            .await
            .expect("count")
            .get(0);
        assert_eq!(busy_vendors, 1);
        assert_eq!(
            incident_state(&db, &incident).await,
            ("matched".to_owned(), Some(winner))
        );
    }
}
