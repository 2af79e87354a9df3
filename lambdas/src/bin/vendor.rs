//! The `vendor` Lambda function: the vendor routes and `/health` under `lambda_http`.

use lambdas::router;
use lambdas::state::AppState;

fn build(state: AppState) -> router::Api {
    router::finish(router::vendor_routes(), state)
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambdas::host::run_lambda(build).await
}
