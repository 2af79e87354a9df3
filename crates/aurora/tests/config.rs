//! Configuration parsing: URLs, environment variables and their errors. No server needed.

use std::collections::HashMap;
use std::time::Duration;

use aurora::{AuroraConfig, ConfigError, PasswordConfig, SslMode};

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn defaults_are_secure_and_documented() {
    let config = AuroraConfig::default();
    assert_eq!(config.tls.mode, SslMode::VerifyFull);
    assert!(config.tls.use_system_roots);
    assert_eq!((config.min_size, config.max_size), (2, 10));
    assert_eq!(config.password, PasswordConfig::None);
    assert!(config.max_lifetime.is_some());
    assert!(config.validate().is_ok());
}

#[test]
fn url_with_password_and_sslmode() {
    let config = AuroraConfig::from_url(
        "postgres://app:p%40ss@db.example.com:6432/roadcall?sslmode=disable&application_name=vendors",
    )
    .expect("valid url");
    assert_eq!(config.host, "db.example.com");
    assert_eq!(config.port, 6432);
    assert_eq!(config.user, "app");
    assert_eq!(config.dbname, "roadcall");
    assert_eq!(config.password, PasswordConfig::Static("p@ss".to_owned()));
    assert_eq!(config.tls.mode, SslMode::Disable);
    assert_eq!(config.application_name, "vendors");
}

#[test]
fn tls_verification_is_on_unless_disabled_explicitly() {
    let plain = AuroraConfig::from_url("postgres://app@db/x").expect("valid");
    assert_eq!(plain.tls.mode, SslMode::VerifyFull);
    for mode in ["require", "verify-ca", "verify-full"] {
        let config =
            AuroraConfig::from_url(&format!("postgres://app@db/x?sslmode={mode}")).expect("valid");
        assert_eq!(config.tls.mode, SslMode::VerifyFull, "{mode}");
    }
    let with_ca =
        AuroraConfig::from_url("postgres://app@db/x?sslrootcert=/etc/rds.pem").expect("valid");
    assert_eq!(
        with_ca.tls.ca_bundle.as_deref(),
        Some(std::path::Path::new("/etc/rds.pem"))
    );
    // prefer/allow would silently fall back to plain text: refused.
    for mode in ["prefer", "allow", "bogus"] {
        let err = AuroraConfig::from_url(&format!("postgres://app@db/x?sslmode={mode}"))
            .expect_err("insecure mode");
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    name: "DATABASE_URL",
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn env_parts_and_tuning() {
    let config = AuroraConfig::from_lookup(lookup(&[
        ("DATABASE_HOST", "writer.example"),
        ("DATABASE_PORT", "5433"),
        ("DATABASE_NAME", "roadcall"),
        ("DATABASE_USER", "app"),
        ("DATABASE_READER_HOST", "reader.example"),
        ("DATABASE_POOL_MIN", "1"),
        ("DATABASE_POOL_MAX", "3"),
        ("DATABASE_WAIT_TIMEOUT_MS", "250"),
        ("DATABASE_STATEMENT_TIMEOUT_MS", "0"),
        ("DATABASE_MAX_LIFETIME_SECS", "60"),
        ("DATABASE_CA_BUNDLE", "/opt/rds-global-bundle.pem"),
    ]))
    .expect("valid env");
    assert_eq!(config.host, "writer.example");
    assert_eq!(config.port, 5433);
    assert_eq!(config.dbname, "roadcall");
    assert_eq!(config.reader_host.as_deref(), Some("reader.example"));
    assert_eq!((config.min_size, config.max_size), (1, 3));
    assert_eq!(config.wait_timeout, Duration::from_millis(250));
    assert_eq!(config.statement_timeout, None);
    assert_eq!(config.max_lifetime, Some(Duration::from_secs(60)));
    assert_eq!(config.tls.mode, SslMode::VerifyFull);
}

#[test]
fn env_errors_name_the_variable() {
    assert!(matches!(
        AuroraConfig::from_lookup(lookup(&[])).expect_err("nothing set"),
        ConfigError::Missing("DATABASE_HOST")
    ));
    assert!(matches!(
        AuroraConfig::from_lookup(lookup(&[("DATABASE_HOST", "h")])).expect_err("no user"),
        ConfigError::Missing("DATABASE_USER")
    ));
    let bad_port = AuroraConfig::from_lookup(lookup(&[
        ("DATABASE_HOST", "h"),
        ("DATABASE_USER", "u"),
        ("DATABASE_PORT", "54x"),
    ]))
    .expect_err("bad port");
    assert!(matches!(
        bad_port,
        ConfigError::Invalid {
            name: "DATABASE_PORT",
            ..
        }
    ));
    assert!(bad_port.to_string().contains("DATABASE_PORT"));
    let too_small = AuroraConfig::from_lookup(lookup(&[
        ("DATABASE_URL", "postgres://u@h/db"),
        ("DATABASE_POOL_MIN", "5"),
        ("DATABASE_POOL_MAX", "2"),
    ]))
    .expect_err("min > max");
    assert!(matches!(
        too_small,
        ConfigError::Invalid {
            name: "DATABASE_POOL_MIN",
            ..
        }
    ));
    let bad_url =
        AuroraConfig::from_lookup(lookup(&[("DATABASE_URL", "postgres://h:notaport/db")]))
            .expect_err("bad url");
    assert!(matches!(
        bad_url,
        ConfigError::Invalid {
            name: "DATABASE_URL",
            ..
        }
    ));
    // tokio-postgres's own error stays reachable for callers that want it.
    let source = std::error::Error::source(&bad_url);
    assert!(
        source.is_some_and(|s| s.is::<aurora::tokio_postgres::Error>()),
        "{bad_url:?}"
    );
    let bad_mode = AuroraConfig::from_lookup(lookup(&[
        ("DATABASE_URL", "postgres://u@h/db"),
        ("DATABASE_SSLMODE", "prefer"),
    ]))
    .expect_err("prefer");
    assert!(matches!(
        bad_mode,
        ConfigError::Invalid {
            name: "DATABASE_SSLMODE",
            ..
        }
    ));
}

#[test]
fn password_sources_from_env() {
    let secret = AuroraConfig::from_lookup(lookup(&[
        ("DATABASE_URL", "postgres://app@h/db"),
        (
            "DATABASE_SECRET_ARN",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbC",
        ),
    ]))
    .expect("secret");
    assert_eq!(
        secret.password,
        PasswordConfig::SecretsManager {
            secret_id: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbC".to_owned(),
            region: "eu-west-1".to_owned(),
        }
    );
    let iam = AuroraConfig::from_lookup(lookup(&[
        ("DATABASE_URL", "postgres://app@h/db"),
        ("DATABASE_IAM_AUTH", "true"),
        ("AWS_REGION", "us-east-2"),
    ]))
    .expect("iam");
    assert_eq!(
        iam.password,
        PasswordConfig::IamToken {
            region: "us-east-2".to_owned()
        }
    );
    let no_region = AuroraConfig::from_lookup(lookup(&[
        ("DATABASE_URL", "postgres://app@h/db"),
        ("DATABASE_IAM_AUTH", "1"),
    ]))
    .expect_err("region");
    assert!(
        matches!(no_region, ConfigError::Missing("AWS_REGION")),
        "{no_region:?}"
    );
    let both = AuroraConfig::from_lookup(lookup(&[
        ("DATABASE_URL", "postgres://app@h/db"),
        ("DATABASE_IAM_AUTH", "yes"),
        ("DATABASE_SECRET_ARN", "name"),
        ("AWS_REGION", "us-east-2"),
    ]))
    .expect_err("both");
    assert!(matches!(
        both,
        ConfigError::Invalid {
            name: "DATABASE_IAM_AUTH",
            ..
        }
    ));
    let bad_bool = AuroraConfig::from_lookup(lookup(&[
        ("DATABASE_URL", "postgres://app@h/db"),
        ("DATABASE_IAM_AUTH", "maybe"),
    ]))
    .expect_err("bool");
    assert!(matches!(
        bad_bool,
        ConfigError::Invalid {
            name: "DATABASE_IAM_AUTH",
            ..
        }
    ));
}

#[test]
fn debug_output_never_shows_the_password() {
    let config = AuroraConfig::from_url("postgres://app:hunter2@h/db").expect("valid");
    let shown = format!("{config:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    let err = AuroraConfig::from_url("postgres://app:hunter2@h:x/db").expect_err("bad port");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn url_parameters_that_matter_are_honoured() {
    let config = AuroraConfig::from_url(
        "postgres://app@db/x?connect_timeout=3&keepalives_idle=45&tcp_user_timeout=12000\
         &application_name=my%20app&sslrootcert=/etc/rds%20bundle.pem",
    )
    .expect("valid url");
    assert_eq!(config.create_timeout, Duration::from_secs(3));
    assert_eq!(config.keepalive_idle, Some(Duration::from_secs(45)));
    assert_eq!(config.tcp_user_timeout, Some(Duration::from_millis(12_000)));
    assert_eq!(config.application_name, "my app");
    assert_eq!(
        config.tls.ca_bundle.as_deref(),
        Some(std::path::Path::new("/etc/rds bundle.pem"))
    );
    // keepalives=0 turns them off whatever keepalives_idle says (libpq's rule).
    let off = AuroraConfig::from_url("postgres://app@db/x?keepalives=0&keepalives_idle=45")
        .expect("valid url");
    assert_eq!(off.keepalive_idle, None);
    let system_default =
        AuroraConfig::from_url("postgres://app@db/x?tcp_user_timeout=0").expect("valid url");
    assert_eq!(system_default.tcp_user_timeout, None);
    // libpq's query-string spellings of the URL's parts still work.
    let parts = AuroraConfig::from_url("postgres:///x?host=db&port=6543&user=app&dbname=other")
        .expect("valid url");
    assert_eq!(
        (
            parts.host.as_str(),
            parts.port,
            parts.user.as_str(),
            parts.dbname.as_str()
        ),
        ("db", 6543, "app", "other")
    );
}

#[test]
fn unknown_or_bad_url_parameters_are_errors_naming_them() {
    for (query, expected) in [
        (
            "target_session_attrs=read-write",
            "unknown parameter `target_session_attrs`",
        ),
        ("sslcompression=1", "unknown parameter `sslcompression`"),
        (
            "connect_timeout=0",
            "connect_timeout: must be at least 1 second",
        ),
        (
            "connect_timeout=soon",
            "connect_timeout: `soon` is not a whole number",
        ),
        ("keepalives=yes", "keepalives: `yes` is not 1 or 0"),
        (
            "tcp_user_timeout=-1",
            "tcp_user_timeout: `-1` is not a whole number",
        ),
    ] {
        let error =
            AuroraConfig::from_url(&format!("postgres://app@db/x?{query}")).expect_err(query);
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    name: "DATABASE_URL",
                    ..
                }
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains(expected), "{query}: {message}");
    }
    let unknown =
        AuroraConfig::from_url("postgres://app@db/x?options=-c%20x%3Dy").expect_err("options");
    let message = unknown.to_string();
    for accepted in aurora::config::URL_PARAMETERS {
        assert!(
            message.contains(accepted),
            "{accepted} not listed: {message}"
        );
    }
}
