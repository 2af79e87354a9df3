//! Typed operations against a real standalone redis-server.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use cache::{CacheError, Codec, GeoPoint, GeoQuery, GeoUnit, RedisClient, SetCondition};
use serde::{Deserialize, Serialize};
use testkit::redis::RedisServer;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    name: String,
    unit_price: u32,
}

fn item(n: &str, p: u32) -> Item {
    Item {
        name: n.into(),
        unit_price: p,
    }
}

async fn client(server: &RedisServer, codec: Codec) -> RedisClient {
    let cfg = cache::CacheConfig {
        codec,
        ..common::test_config(&server.url())
    };
    RedisClient::connect(&cfg).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_set_with_conditions_and_ttl() {
    let server = RedisServer::start();
    for codec in [Codec::Json, Codec::MessagePack] {
        let c = client(&server, codec).await;
        let key = format!("item:{codec:?}");
        assert_eq!(c.get::<Item>(&key).await.unwrap(), None, "miss is Ok(None)");
        assert!(
            !c.set(&key, &item("a", 1), None, SetCondition::IfExists)
                .await
                .unwrap()
        );
        assert!(
            c.set(&key, &item("a", 1), None, SetCondition::IfAbsent)
                .await
                .unwrap()
        );
        assert!(
            !c.set(&key, &item("b", 2), None, SetCondition::IfAbsent)
                .await
                .unwrap()
        );
        assert_eq!(c.get::<Item>(&key).await.unwrap(), Some(item("a", 1)));
        assert!(
            c.set(&key, &item("c", 3), None, SetCondition::IfExists)
                .await
                .unwrap()
        );
        assert_eq!(c.get::<Item>(&key).await.unwrap(), Some(item("c", 3)));

        let short = format!("short:{codec:?}");
        c.set(
            &short,
            &item("t", 1),
            Some(Duration::from_millis(200)),
            SetCondition::Always,
        )
        .await
        .unwrap();
        assert!(c.exists(&short).await.unwrap());
        assert!(c.ttl(&short).await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(!c.exists(&short).await.unwrap(), "expired");
        assert_eq!(c.get::<Item>(&short).await.unwrap(), None);
    }
    // JSON is readable with redis-cli and camelCase.
    assert_eq!(
        server.cli(&["GET", "item:Json"]).trim(),
        r#"{"name":"c","unitPrice":3}"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mget_mset_del_exists_expire_incr() {
    let server = RedisServer::start();
    let c = client(&server, Codec::Json).await;
    let entries = vec![
        ("m:1", item("one", 1), Duration::from_secs(60)),
        ("m:2", item("two", 2), Duration::from_millis(150)),
        ("m:3", item("three", 3), Duration::from_secs(60)),
    ];
    c.mset_with_ttl(&entries).await.unwrap();
    let got: Vec<Option<Item>> = c.mget(&["m:1", "m:2", "missing", "m:3"]).await.unwrap();
    assert_eq!(
        got,
        vec![
            Some(item("one", 1)),
            Some(item("two", 2)),
            None,
            Some(item("three", 3))
        ]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got: Vec<Option<Item>> = c.mget(&["m:1", "m:2"]).await.unwrap();
    assert_eq!(got, vec![Some(item("one", 1)), None], "per-key TTL applied");

    assert!(c.expire("m:1", Duration::from_millis(100)).await.unwrap());
    assert!(!c.expire("nope", Duration::from_secs(1)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(!c.exists("m:1").await.unwrap());

    assert_eq!(c.del(&["m:3", "nope"]).await.unwrap(), 1);
    assert!(!c.exists("m:3").await.unwrap());

    assert_eq!(c.incr("counter", 5).await.unwrap(), 5);
    assert_eq!(c.decr("counter", 2).await.unwrap(), 3);
    assert_eq!(c.incr("counter", 1).await.unwrap(), 4);

    // A key of the wrong type is a matchable command error, not a panic.
    c.set("text", &item("x", 1), None, SetCondition::Always)
        .await
        .unwrap();
    match c.incr("text", 1).await {
        Err(CacheError::Command(failure)) => {
            // The client's error is kept as the source: callers match on the server code.
            assert!(failure.redis_error().is_some(), "{failure}");
            assert!(std::error::Error::source(&failure).is_some());
        }
        other => panic!("expected a command error, got {other:?}"),
    }
    // Bytes that are not the codec's format are a serialization error.
    server.cli(&["SET", "garbage", "{not json"]);
    assert!(matches!(
        c.get::<Item>("garbage").await,
        Err(CacheError::Serialization(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes() {
    let server = RedisServer::start();
    let c = client(&server, Codec::MessagePack).await;
    assert!(c.hset("h", "a", &item("a", 1)).await.unwrap());
    assert!(c.hset("h", "b", &item("b", 2)).await.unwrap());
    assert!(!c.hset("h", "b", &item("b", 3)).await.unwrap(), "overwrite");
    assert_eq!(c.hget::<Item>("h", "b").await.unwrap(), Some(item("b", 3)));
    assert_eq!(c.hget::<Item>("h", "zz").await.unwrap(), None);
    let all: HashMap<String, Item> = c.hgetall("h").await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all["a"], item("a", 1));
    assert_eq!(c.hdel("h", &["a", "zz"]).await.unwrap(), 1);
    assert!(c.hgetall::<Item>("nohash").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn geo_commands() {
    let server = RedisServer::start();
    let c = client(&server, Codec::Json).await;
    let nyc = GeoPoint::new(40.71427, -74.00597);
    let newark = GeoPoint::new(40.73566, -74.17237);
    let philly = GeoPoint::new(39.95233, -75.16379);
    let added = c
        .geo_add("g", &[("nyc", nyc), ("newark", newark), ("philly", philly)])
        .await
        .unwrap();
    assert_eq!(added, 3);
    let pos = c.geo_pos("g", &["newark", "nowhere"]).await.unwrap();
    let p = pos[0].unwrap();
    assert!((p.lat - newark.lat).abs() < 1e-4 && (p.lon - newark.lon).abs() < 1e-4);
    assert_eq!(pos[1], None);

    let d = c
        .geo_dist("g", "nyc", "philly", GeoUnit::Miles)
        .await
        .unwrap()
        .unwrap();
    let expected = nyc.haversine_m(&philly) / GeoUnit::Miles.meters();
    assert!((d - expected).abs() < 0.05, "{d} vs {expected}");
    assert_eq!(
        c.geo_dist("g", "nyc", "nowhere", GeoUnit::Miles)
            .await
            .unwrap(),
        None
    );

    let near = c
        .geo_search("g", &GeoQuery::radius(nyc, 20.0, GeoUnit::Miles))
        .await
        .unwrap();
    let names: Vec<&str> = near.iter().map(|m| m.member.as_str()).collect();
    assert_eq!(names, ["nyc", "newark"], "ascending, philly is ~80 mi away");
    assert!(near[0].distance < near[1].distance);

    let one = c
        .geo_search(
            "g",
            &GeoQuery::radius(philly, 200.0, GeoUnit::Kilometers).limit(1),
        )
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].member, "philly");

    let boxed = c
        .geo_search("g", &GeoQuery::bbox(nyc, 40.0, 10.0, GeoUnit::Kilometers))
        .await
        .unwrap();
    let names: Vec<&str> = boxed.iter().map(|m| m.member.as_str()).collect();
    assert_eq!(names, ["nyc", "newark"]);

    assert_eq!(c.geo_remove("g", &["newark", "nowhere"]).await.unwrap(), 1);
    assert!(
        c.geo_search("g", &GeoQuery::radius(newark, 1.0, GeoUnit::Miles))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        c.geo_add("g", &[("pole", GeoPoint::new(89.0, 0.0))]).await,
        Err(CacheError::InvalidInput(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_matchable_when_redis_is_gone() {
    let mut server = RedisServer::start();
    let c = client(&server, Codec::Json).await;
    c.set("k", &1, None, SetCondition::Always).await.unwrap();
    server.stop();
    let err = c.get::<i32>("k").await.unwrap_err();
    assert!(
        matches!(err, CacheError::Connection(_) | CacheError::Timeout(_)),
        "{err:?}"
    );
    assert!(err.is_unavailable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_user_and_password() {
    let server = RedisServer::start();
    server.cli(&[
        "ACL",
        "SETUSER",
        "app",
        "on",
        ">app-secret",
        "~*",
        "&*",
        "+@all",
    ]);
    server.cli(&["ACL", "SETUSER", "default", "off"]);
    let cfg = cache::CacheConfig {
        username: Some("app".into()),
        password: Some("app-secret".into()),
        ..common::test_config(&server.url())
    };
    let c = RedisClient::connect(&cfg).await.unwrap();
    assert!(c.set("acl", &1, None, SetCondition::Always).await.unwrap());
    let anonymous = RedisClient::connect(&common::test_config(&server.url()))
        .await
        .unwrap();
    let err = anonymous.get::<i32>("acl").await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}
