//! `AppSyncCache`: the API cache of the platform's AppSync GraphQL API.
//!
//! Per-resolver caching with a short TTL, encrypted in transit and at rest. The API id is
//! a parameter; when it is empty the cache drops out through a condition.

pub mod config;

use cfn::aws::appsync::ApiCache;
use cfn::aws::appsync::api_cache::ApiCachingBehavior;
use cfn::{
    Expr, Handle, Output, Parameter, ParameterType, ResourceOptions, Template, TemplateError,
};

use crate::stage::Stage;
use config::AppSyncConfig;

/// Condition: an AppSync API id is configured.
pub const HAS_API: &str = "HasAppSyncApi";

/// The API cache.
#[derive(Clone, Debug)]
pub struct AppSyncCache {
    /// Stage settings.
    pub config: AppSyncConfig,
}

impl AppSyncCache {
    /// Adds the parameter, condition, cache and output to `t`.
    pub fn build(
        &self,
        stage: &Stage<'_>,
        t: &mut Template,
    ) -> Result<Handle<ApiCache>, TemplateError> {
        let c = &self.config;
        let api_id = t.add_parameter(
            "AppSyncApiId",
            Parameter::new(
                ParameterType::String,
                "AppSync GraphQL API whose resolvers are cached (empty: no cache)",
            )
            .default_value(&c.api_id)
            .allowed_pattern("^[a-zA-Z0-9]*$", "an AppSync API id, or empty"),
        )?;
        t.add_condition(HAS_API, Expr::not(Expr::equals(api_id.clone(), "")))?;
        let cache = t.add_with(
            "ApiCache",
            ApiCache::new(
                ApiCachingBehavior::PerResolverCaching,
                api_id.clone(),
                c.ttl_seconds,
                c.cache_type,
            )
            .transit_encryption_enabled(true)
            .at_rest_encryption_enabled(true),
            ResourceOptions::when(HAS_API),
        )?;
        t.add_output(
            "AppSyncCachedApiId",
            Output::new(
                "AppSync API whose cache this stack manages (flush with `stacks flush-appsync`)",
                api_id,
            )
            .export(stage.export_name("appsync", "cached-api-id"))
            .when(HAS_API),
        )?;
        Ok(cache)
    }
}
