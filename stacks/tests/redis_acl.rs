//! The Redis users' access strings against a real redis-server 7: the app user may run
//! every command the cache crate sends (and the cluster client's topology queries), not
//! the dangerous ones; the mandatory `default` user is off. IAM authentication itself
//! exists only on ElastiCache, so the app user gets a test password here: what is tested
//! is what the access string allows once authenticated.

use stacks::constructs::redis::{APP_ACCESS_STRING, DEFAULT_ACCESS_STRING};
use testkit::redis::RedisServer;

/// The commands crates/cache and crates/vendors send, and what the cluster client asks.
const APP_COMMANDS: &[&[&str]] = &[
    &["PING"],
    &["GET", "rc:k"],
    &["SET", "rc:k", "v", "PX", "1000", "NX"],
    &["MGET", "rc:a", "rc:b"],
    &["DEL", "rc:k"],
    &["EXISTS", "rc:k"],
    &["PEXPIRE", "rc:k", "1000"],
    &["PTTL", "rc:k"],
    &["INCRBY", "rc:n", "1"],
    &["DECRBY", "rc:n", "1"],
    &["HSET", "rc:h", "f", "v"],
    &["HGET", "rc:h", "f"],
    &["HDEL", "rc:h", "f"],
    &["HGETALL", "rc:h"],
    &["GEOADD", "rc:g", "13.4", "52.5", "v1"],
    &["GEOPOS", "rc:g", "v1"],
    &["GEODIST", "rc:g", "v1", "v2"],
    &[
        "GEOSEARCH",
        "rc:g",
        "FROMLONLAT",
        "13.4",
        "52.5",
        "BYRADIUS",
        "5",
        "km",
    ],
    &["ZREM", "rc:g", "v1"],
    &[
        "EVALSHA",
        "0123456789012345678901234567890123456789",
        "1",
        "rc:k",
    ],
    &["SCRIPT", "LOAD", "return 1"],
    &["CLUSTER", "SLOTS"],
    &["CLUSTER", "SHARDS"],
];

const REFUSED: &[&[&str]] = &[
    &["FLUSHALL"],
    &["KEYS", "*"],
    &["CONFIG", "GET", "*"],
    &["DEBUG", "SLEEP", "0"],
    &["SHUTDOWN"],
];

fn setuser(server: &RedisServer, user: &str, access: &str, extra: &[&str]) -> String {
    let mut args = vec!["ACL", "SETUSER", user, "reset"];
    args.extend(access.split(' '));
    args.extend(extra);
    server.cli(&args)
}

#[test]
fn the_app_user_runs_the_cache_commands_and_not_the_dangerous_ones() {
    let server = RedisServer::start();
    let user = "roadcall-perf-dev-app";
    assert_eq!(
        setuser(&server, user, APP_ACCESS_STRING, &[">test-only-password"]).trim(),
        "OK"
    );
    for command in APP_COMMANDS {
        let mut args = vec!["ACL", "DRYRUN", user];
        args.extend(*command);
        assert_eq!(server.cli(&args).trim(), "OK", "{command:?} is refused");
    }
    for command in REFUSED {
        let mut args = vec!["ACL", "DRYRUN", user];
        args.extend(*command);
        let answer = server.cli(&args);
        assert!(
            answer.contains("no permissions"),
            "{command:?} is allowed: {answer}"
        );
    }
}

#[test]
fn the_default_user_is_off() {
    let server = RedisServer::start();
    assert_eq!(server.cli(&["PING"]).trim(), "PONG");
    assert_eq!(
        setuser(&server, "default", DEFAULT_ACCESS_STRING, &[]).trim(),
        "OK"
    );
    // Without credentials a client is the default user, which can no longer do anything.
    let answer = server.cli(&["PING"]);
    assert_ne!(answer.trim(), "PONG", "{answer}");
    assert!(
        answer.contains("NOAUTH") || answer.contains("no permissions"),
        "{answer}"
    );
}
