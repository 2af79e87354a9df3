//! `NetworkSecurity`: the cache client security group and the security groups of Redis
//! and DAX, which admit their ports only from that client group.

pub mod config;

use cfn::aws::ec2::security_group::Egress;
use cfn::aws::ec2::{SecurityGroup, SecurityGroupEgress, SecurityGroupIngress};
use cfn::{Expr, Handle, Parameter, ParameterType, Template, TemplateError};

use crate::stage::Stage;

/// Redis port.
pub const REDIS_PORT: u16 = 6379;
/// DAX port for TLS (encrypted) cluster endpoints.
pub const DAX_TLS_PORT: u16 = 9111;

/// The security groups of the caches and of their clients.
#[derive(Clone, Debug)]
pub struct NetworkSecurity {
    /// Default of the `VpcId` parameter.
    pub vpc_id: String,
    /// Default of the `PrivateSubnetIds` parameter.
    pub private_subnet_ids: Vec<String>,
}

/// Handles to what [`NetworkSecurity::build`] created.
#[derive(Clone, Debug)]
pub struct NetworkHandles {
    /// Group to attach to Lambdas and services that use the caches.
    pub client: Handle<SecurityGroup>,
    /// Group of the Redis replication group.
    pub redis: Handle<SecurityGroup>,
    /// Group of the DAX cluster.
    pub dax: Handle<SecurityGroup>,
}

/// An egress rule that matches nothing: a security group given one has no default
/// allow-all egress rule (the technique AWS CDK uses for `allowAllOutbound: false`).
fn no_egress() -> Egress {
    Egress::new("icmp")
        .cidr_ip("255.255.255.255/32")
        .description("Disallow all traffic")
        .from_port(252)
        .to_port(86)
}

impl NetworkSecurity {
    /// Adds the parameters, groups, rules and exports to `t`.
    pub fn build(
        &self,
        stage: &Stage<'_>,
        t: &mut Template,
    ) -> Result<NetworkHandles, TemplateError> {
        let vpc = t.add_parameter(
            "VpcId",
            Parameter::new(ParameterType::VpcId, "VPC of the caches and their clients")
                .default_value(&self.vpc_id),
        )?;
        let subnets = t.add_parameter(
            "PrivateSubnetIds",
            Parameter::new(
                ParameterType::SubnetIdList,
                "Private subnets (two or more, in distinct availability zones) for cache nodes",
            )
            .default_value(self.private_subnet_ids.join(",")),
        )?;
        // No GroupName: `VpcId` is a parameter the docs tell users to override, and a
        // changed VPC replaces the group, which CloudFormation refuses for a named one.
        let group = |description: &str| {
            SecurityGroup::new(description)
                .vpc_id(vpc.clone())
                .security_group_egress(vec![no_egress().into()])
        };
        let client = t.add(
            "CacheClientSecurityGroup",
            group("Clients of the Redis and DAX caches (attach to Lambdas)"),
        )?;
        let redis = t.add(
            "RedisSecurityGroup",
            group("ElastiCache Redis: port 6379 from cache clients only"),
        )?;
        let dax = t.add(
            "DaxSecurityGroup",
            group("DAX: TLS port 9111 from cache clients only"),
        )?;

        for (id, server, port, what) in [
            ("Redis", &redis, REDIS_PORT, "Redis"),
            ("Dax", &dax, DAX_TLS_PORT, "DAX (TLS)"),
        ] {
            t.add(
                &format!("{id}IngressFromClients"),
                SecurityGroupIngress::new("tcp")
                    .group_id(server.att_group_id())
                    .source_security_group_id(client.att_group_id())
                    .from_port(port)
                    .to_port(port)
                    .description(format!("{what} from cache clients")),
            )?;
            t.add(
                &format!("ClientEgressTo{id}"),
                SecurityGroupEgress::new(client.att_group_id(), "tcp")
                    .destination_security_group_id(server.att_group_id())
                    .from_port(port)
                    .to_port(port)
                    .description(format!("Cache clients to {what}")),
            )?;
        }

        stage.export(t, "VpcId", "VPC of the caches", vpc, "network", "vpc-id")?;
        stage.export(
            t,
            "PrivateSubnetIds",
            "Private subnets, comma-separated",
            Expr::join_list(",", subnets),
            "network",
            "private-subnet-ids",
        )?;
        stage.export(
            t,
            "CacheClientSecurityGroupId",
            "Attach to Lambdas that use Redis or DAX",
            client.att_group_id(),
            "network",
            "cache-client-sg",
        )?;
        stage.export(
            t,
            "RedisSecurityGroupId",
            "Security group of Redis",
            redis.att_group_id(),
            "network",
            "redis-sg",
        )?;
        stage.export(
            t,
            "DaxSecurityGroupId",
            "Security group of DAX",
            dax.att_group_id(),
            "network",
            "dax-sg",
        )?;
        Ok(NetworkHandles { client, redis, dax })
    }
}
