//! The requests the suite sends, exactly as the API contract (docs/api.md) expects
//! them: bodies, the search query and URLs with captured ids as path segments.
//!
//! URLs are built with [`Url`]'s segment and query-pair editors, which
//! percent-encode, so an id the server invents (with `/`, `?` or spaces) cannot
//! change the route.

use rand::Rng;
use reqwest::Url;
use serde_json::{Value, json};

use crate::scenario::Endpoint;
use crate::testdata::{Metros, Point, round5};

/// Incident types and vendor capabilities share one list (docs/api.md).
pub const INCIDENT_TYPES: [&str; 6] = ["tire", "engine", "tow", "fuel", "lockout", "jumpstart"];

/// Ids captured from earlier answers of the same flow.
#[derive(Debug, Default, Clone)]
pub struct Captured {
    /// `incidentId` of the flow's `POST /incidents` answer.
    pub incident_id: Option<String>,
    /// `vendors[*].vendorId` of the flow's last search answer.
    pub vendor_ids: Vec<String>,
}

/// `base` with `segments` appended as percent-encoded path segments.
///
/// `None` only for a base that cannot carry a path (not an http(s) URL), which
/// [`crate::client::parse_target`] already refuses.
pub fn endpoint_url(base: &Url, segments: &[&str]) -> Option<Url> {
    let mut url = base.clone();
    url.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .extend(segments);
    Some(url)
}

/// Builds the request of a step, or `None` when a needed value was not captured.
pub fn build<R: Rng>(
    client: &reqwest::Client,
    base: &Url,
    metros: &Metros,
    endpoint: Endpoint,
    here: Point,
    captured: &Captured,
    rng: &mut R,
) -> Option<reqwest::RequestBuilder> {
    let request = match endpoint {
        Endpoint::CreateIncident => client
            .post(endpoint_url(base, &["incidents"])?)
            .json(&incident_body(here, rng)),
        Endpoint::GetIncident => {
            let id = captured.incident_id.as_deref()?;
            client.get(endpoint_url(base, &["incidents", id])?)
        }
        Endpoint::SearchVendors => {
            let mut url = endpoint_url(base, &["vendors", "search"])?;
            url.query_pairs_mut().extend_pairs(search_query(here, rng));
            client.get(url)
        }
        Endpoint::GetVendor => {
            let id = pick(&captured.vendor_ids, rng)?;
            client.get(endpoint_url(base, &["vendors", id])?)
        }
        Endpoint::UpdateLocation => {
            let id = pick(&captured.vendor_ids, rng)?;
            let to = metros.nudge(rng, here);
            client
                .post(endpoint_url(base, &["vendors", id, "location"])?)
                .json(&json!({"lat": round5(to.lat), "lon": round5(to.lon)}))
        }
        Endpoint::CreateVendor => client
            .post(endpoint_url(base, &["vendors"])?)
            .json(&vendor_body(0, here, rng)),
    };
    Some(request)
}

fn pick<'a, R: Rng>(ids: &'a [String], rng: &mut R) -> Option<&'a str> {
    if ids.is_empty() {
        return None;
    }
    ids.get(rng.random_range(0..ids.len())).map(String::as_str)
}

/// `POST /incidents` body, as the platform's clients send it.
pub fn incident_body<R: Rng>(at: Point, rng: &mut R) -> Value {
    let kind = INCIDENT_TYPES[rng.random_range(0..INCIDENT_TYPES.len())];
    let description = match kind {
        "tire" => "flat tire on the shoulder",
        "engine" => "engine overheating, steam from the hood",
        "tow" => "car will not start, needs a tow",
        "fuel" => "ran out of fuel",
        "lockout" => "keys locked inside the car",
        _ => "battery dead, needs a jump start",
    };
    json!({
        "driverId": format!("load-driver-{}", rng.random_range(0..100_000u32)),
        "type": kind,
        "location": {"lat": round5(at.lat), "lon": round5(at.lon)},
        "description": description,
    })
}

/// `GET /vendors/search` query pairs: around `at`, 25 miles, 10 results, a
/// capability filter on half of the searches.
pub fn search_query<R: Rng>(at: Point, rng: &mut R) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("lat", round5(at.lat).to_string()),
        ("lon", round5(at.lon).to_string()),
        ("radius", "25".to_string()),
        ("limit", "10".to_string()),
    ];
    if rng.random_bool(0.5) {
        let capability = INCIDENT_TYPES[rng.random_range(0..INCIDENT_TYPES.len())];
        pairs.push(("capability", capability.to_string()));
    }
    pairs
}

/// `POST /vendors` body for the set-up vendors.
pub fn vendor_body<R: Rng>(n: u32, at: Point, rng: &mut R) -> Value {
    // Two or three capabilities per vendor so every incident type finds someone.
    let first = rng.random_range(0..INCIDENT_TYPES.len());
    let count = rng.random_range(2..=3);
    let capabilities: Vec<&str> = (0..count)
        .map(|i| INCIDENT_TYPES[(first + i * 2) % INCIDENT_TYPES.len()])
        .collect();
    json!({
        "businessName": format!("Load Test Roadside {n}"),
        "capabilities": capabilities,
        "location": {"lat": round5(at.lat), "lon": round5(at.lon)},
        "rating": (rng.random_range(30..=50) as f64) / 10.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn captured_ids_are_one_encoded_segment() {
        let base = Url::parse("http://127.0.0.1:3000").unwrap();
        let url = endpoint_url(&base, &["vendors", "a/b c?d", "location"]).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:3000/vendors/a%2Fb%20c%3Fd/location"
        );
        let url = endpoint_url(&base, &["incidents", "c0a8-1_2.x~"]).unwrap();
        assert_eq!(url.path(), "/incidents/c0a8-1_2.x~");
    }

    #[test]
    fn a_base_path_is_kept() {
        let base = Url::parse("https://api.example.com/dev/").unwrap();
        let url = endpoint_url(&base, &["incidents"]).unwrap();
        assert_eq!(url.as_str(), "https://api.example.com/dev/incidents");
    }

    #[test]
    fn bodies_follow_the_contract() {
        let mut rng = StdRng::seed_from_u64(1);
        let at = Point {
            lat: 40.7,
            lon: -74.0,
        };
        let b = incident_body(at, &mut rng);
        assert!(INCIDENT_TYPES.contains(&b["type"].as_str().unwrap()));
        assert!(b["driverId"].as_str().unwrap().starts_with("load-driver-"));
        assert_eq!(b["location"]["lat"], 40.7);
        let v = vendor_body(3, at, &mut rng);
        assert_eq!(v["businessName"], "Load Test Roadside 3");
        assert!(v["capabilities"].as_array().unwrap().len() >= 2);
        let mut url = Url::parse("http://127.0.0.1:3000/vendors/search").unwrap();
        url.query_pairs_mut()
            .extend_pairs(search_query(at, &mut rng));
        let q = url.query().unwrap();
        assert!(q.starts_with("lat=40.7&lon=-74&radius=25&limit=10"), "{q}");
    }
}
