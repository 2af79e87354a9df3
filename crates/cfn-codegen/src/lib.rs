//! Generates typed CloudFormation resource structs (the L1 layer of `crates/cfn`) from the
//! resource provider schemas that the pinned `cfn-lint` package ships, the way aws-cdk-lib
//! generates its L1 classes from the same schemas.
//!
//! For each resource type in [`RESOURCE_TYPES`] it writes a struct whose fields are the
//! schema's properties (renamed to snake case, serialized under their CloudFormation
//! names), with required properties as constructor arguments, enumerations as Rust enums,
//! nested definitions as structs, and typed `Fn::GetAtt` accessors from the schema's
//! read-only properties. The output is run through `rustfmt` and committed; a test checks
//! that it is current.

#![warn(missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

/// The cfn-lint version whose schemas the committed output was generated from.
pub const CFN_LINT_VERSION: &str = "1.58.0";

/// Where the generated modules live, relative to the workspace root.
pub const OUTPUT_DIR: &str = "crates/cfn/src/aws";

/// Every resource type the stacks emit (and the checks' test templates use).
pub const RESOURCE_TYPES: &[&str] = &[
    "AWS::AppSync::ApiCache",
    "AWS::CloudFront::CachePolicy",
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudFront::ResponseHeadersPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::DAX::Cluster",
    "AWS::DAX::ParameterGroup",
    "AWS::DAX::SubnetGroup",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::ElastiCache::ParameterGroup",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ElastiCache::SubnetGroup",
    "AWS::Events::Rule",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Role",
    "AWS::KMS::Alias",
    "AWS::KMS::Key",
    "AWS::Lambda::Function",
    "AWS::Lambda::Permission",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::Topic",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::Queue",
    "AWS::SecretsManager::Secret",
    "AWS::WAFv2::LoggingConfiguration",
    "AWS::WAFv2::WebACL",
];

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| {
            // A moved checkout still has the relative layout; fall back to it.
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
        })
}

/// Finds cfn-lint's `data/schemas` directory through the project's virtualenv (or the
/// `python3` on PATH) and checks that the installed cfn-lint is the pinned version.
pub fn locate_schemas(root: &Path) -> anyhow::Result<PathBuf> {
    let venv_python = root.join(".venv-cfn-lint/bin/python");
    let python = if venv_python.exists() {
        venv_python
    } else {
        PathBuf::from("python3")
    };
    let output = Command::new(&python)
        .args([
            "-c",
            "import cfnlint, os; from cfnlint.version import __version__ as v; \
             print(v); print(os.path.join(os.path.dirname(cfnlint.__file__), 'data', 'schemas'))",
        ])
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !output.status.success() {
        bail!(
            "cfn-lint is not installed for {}; install it with `scripts/test` or \
             `python3 -m venv .venv-cfn-lint && .venv-cfn-lint/bin/pip install 'cfn-lint=={CFN_LINT_VERSION}'`",
            python.display()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let version = lines.next().unwrap_or_default().trim();
    let dir = lines.next().unwrap_or_default().trim();
    if version != CFN_LINT_VERSION {
        bail!(
            "cfn-lint {version} is installed but the generated structs are pinned to \
             {CFN_LINT_VERSION}; run `.venv-cfn-lint/bin/pip install 'cfn-lint=={CFN_LINT_VERSION}'`"
        );
    }
    Ok(PathBuf::from(dir))
}

/// Generates every module: returns `(file name, formatted source)` pairs, `mod.rs` included.
pub fn generate(schemas: &Path, root: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let providers_path = schemas.join("providers/us-east-1.json");
    let providers: Value = read_json(&providers_path)?;
    // service -> (module, struct name, code)
    let mut services: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    for type_name in RESOURCE_TYPES {
        let hash = providers
            .get(type_name)
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("{type_name} is not in {}", providers_path.display()))?;
        let schema = read_json(&schemas.join(format!("resources/{hash}.json")))?;
        let (service, resource) = split_type(type_name)?;
        let code = ResourceGen::new(type_name, &resource, &schema).generate()?;
        services.entry(service.to_lowercase()).or_default().push((
            snake_case(&resource),
            resource.clone(),
            code,
        ));
    }
    let mut files = Vec::new();
    let mut mod_rs = String::from(
        "//! Typed CloudFormation resources, generated by `cargo run -p cfn-codegen` from the\n\
         //! provider schemas of cfn-lint ",
    );
    mod_rs.push_str(CFN_LINT_VERSION);
    mod_rs.push_str(". Do not edit by hand.\n\n");
    for (service, resources) in &services {
        mod_rs.push_str(&format!("pub mod {service};\n"));
        let mut text = format!(
            "//! `AWS::{}::*` resources. Generated by `cfn-codegen` from cfn-lint {CFN_LINT_VERSION}; do not edit.\n\n",
            service_display(service)
        );
        for (module, name, _) in resources {
            text.push_str(&format!("pub use {module}::{name};\n"));
        }
        for (module, _, code) in resources {
            text.push_str(&format!("\npub mod {module} {{\n{code}\n}}\n"));
        }
        files.push((format!("{service}.rs"), rustfmt(&text, root)?));
    }
    files.push(("mod.rs".to_owned(), rustfmt(&mod_rs, root)?));
    files.sort();
    Ok(files)
}

fn service_display(service: &str) -> &str {
    match service {
        "appsync" => "AppSync",
        "cloudfront" => "CloudFront",
        "cloudwatch" => "CloudWatch",
        "dax" => "DAX",
        "ec2" => "EC2",
        "elasticache" => "ElastiCache",
        "events" => "Events",
        "iam" => "IAM",
        "kms" => "KMS",
        "lambda" => "Lambda",
        "logs" => "Logs",
        "s3" => "S3",
        "sns" => "SNS",
        "sqs" => "SQS",
        "secretsmanager" => "SecretsManager",
        "wafv2" => "WAFv2",
        other => other,
    }
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn split_type(type_name: &str) -> anyhow::Result<(String, String)> {
    let parts: Vec<&str> = type_name.split("::").collect();
    match parts.as_slice() {
        ["AWS", service, resource] => Ok(((*service).to_owned(), (*resource).to_owned())),
        _ => bail!("unexpected type name {type_name}"),
    }
}

fn rustfmt(source: &str, root: &Path) -> anyhow::Result<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running rustfmt (install it with `rustup component add rustfmt`)")?;
    child
        .stdin
        .take()
        .ok_or_else(|| anyhow!("rustfmt stdin"))?
        .write_all(source.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "rustfmt failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?)
}

/// `ReplicationGroupId` -> `replication_group_id`, `IAMRoleARN` -> `iam_role_arn`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                // `CNAMEs` is one word: a lone trailing `s` is a plural, not a new word.
                Some(p) if p.is_ascii_uppercase() => {
                    next.is_some_and(|n| n.is_ascii_lowercase())
                        && !(next == Some('s') && i + 2 == chars.len())
                }
                Some(_) => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out
}

fn rust_ident(snake: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else",
        "enum", "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match",
        "mod", "move", "mut", "pub", "ref", "return", "static", "struct", "trait", "true", "try",
        "type", "unsafe", "use", "where", "while", "yield", "abstract", "become", "do", "final",
        "macro", "override", "priv", "typeof", "unsized", "virtual",
    ];
    if KEYWORDS.contains(&snake) {
        format!("r#{snake}")
    } else if snake.starts_with(|c: char| c.is_ascii_digit()) {
        format!("v{snake}")
    } else {
        snake.to_owned()
    }
}

/// An enum value as a variant name: `redirect-to-https` -> `RedirectToHttps`,
/// `TLSv1.2_2021` -> `TLSv122021`, `PER_RESOLVER_CACHING` -> `PerResolverCaching`.
fn variant_name(value: &str) -> String {
    let mut out = String::new();
    for chunk in value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|c| !c.is_empty())
    {
        // All-caps chunks become `Caps`; mixed-case chunks keep their inner capitals.
        let normalized = if chunk.chars().any(|c| c.is_ascii_lowercase()) {
            chunk.to_owned()
        } else {
            chunk.to_ascii_lowercase()
        };
        let mut chars = normalized.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.is_empty() {
        out.push_str("Empty");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// One-line doc text from a schema description.
fn doc_text(node: &Value) -> Option<String> {
    let raw = node
        .get("description")
        .or_else(|| node.get("markdownDescription"))
        .and_then(Value::as_str)?;
    let collapsed: String = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return None;
    }
    let cleaned = collapsed.replace('<', "&lt;").replace('>', "&gt;");
    const LIMIT: usize = 400;
    if cleaned.len() <= LIMIT {
        return Some(cleaned);
    }
    // Cut at the last sentence end before the limit, or at a char boundary.
    let mut cut = LIMIT;
    while !cleaned.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &cleaned[..cut];
    Some(match head.rfind(". ") {
        Some(pos) if pos > 80 => head[..=pos].to_owned(),
        _ => format!("{head}..."),
    })
}

fn doc_lines(text: &str) -> String {
    format!("/// {}\n", text.replace('\n', " "))
}

/// The Rust type of a property, as written in a field.
#[derive(Clone, Debug)]
enum FieldType {
    /// Free-form JSON (policy documents, tag maps, untyped values).
    Json,
    /// `Val<T>` with `T` spelled out.
    Val(String),
}

impl FieldType {
    fn spelled(&self) -> String {
        match self {
            FieldType::Json => "Json".to_owned(),
            FieldType::Val(inner) => format!("Val<{inner}>"),
        }
    }
}

struct ResourceGen<'a> {
    type_name: &'a str,
    name: String,
    schema: &'a Value,
    /// Generated items by Rust name (structs and enums), sorted for stable output.
    items: BTreeMap<String, String>,
    /// Definition name -> Rust name, for definitions already generated or in progress.
    definitions: BTreeMap<String, String>,
    in_progress: BTreeSet<String>,
}

impl<'a> ResourceGen<'a> {
    fn new(type_name: &'a str, name: &str, schema: &'a Value) -> Self {
        Self {
            type_name,
            name: name.to_owned(),
            schema,
            items: BTreeMap::new(),
            definitions: BTreeMap::new(),
            in_progress: BTreeSet::new(),
        }
    }

    fn generate(mut self) -> anyhow::Result<String> {
        let properties = self
            .schema
            .get("properties")
            .and_then(Value::as_object)
            .ok_or_else(|| anyhow!("{} has no properties", self.type_name))?
            .clone();
        let required = string_list(self.schema.get("required"));
        // Read-only properties are outputs, not inputs: CloudFormation rejects them in a template.
        let read_only: BTreeSet<String> = string_list(self.schema.get("readOnlyProperties"))
            .into_iter()
            .filter_map(|p| p.strip_prefix("/properties/").map(str::to_owned))
            .collect();
        let inputs: serde_json::Map<String, Value> = properties
            .iter()
            .filter(|(name, _)| !read_only.contains(*name))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut doc = format!("`{}`.", self.type_name);
        if let Some(text) = doc_text(self.schema) {
            doc.push(' ');
            doc.push_str(&text);
        }
        let name = self.name.clone();
        let fields = self.fields(&name, &inputs, &required)?;
        let struct_code = struct_code(&name, &doc, &fields);
        let tags_code = self.tags_code(&fields)?;
        let attributes = attribute_names(&read_only);
        let mut out = String::new();
        out.push_str(&format!(
            "#![allow(clippy::too_many_arguments, clippy::wrong_self_convention, clippy::enum_variant_names, \
             clippy::should_implement_trait, clippy::large_enum_variant)]\n\
             //! `{}` and its property types.\n\nuse serde::Serialize;\n\n\
             #[allow(unused_imports)]\nuse crate::expr::{{Expr, Json, Val}};\n\n",
            self.type_name
        ));
        out.push_str(&struct_code);
        out.push_str(&format!(
            "\nimpl crate::template::Resource for {name} {{\n\
             const TYPE: &'static str = \"{}\";\n\
             const ATTRIBUTES: &'static [&'static str] = &[{}];\n{tags_code}}}\n",
            self.type_name,
            attributes
                .iter()
                .map(|a| format!("\"{a}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if !attributes.is_empty() {
            out.push_str(&format!("\nimpl crate::template::Handle<{name}> {{\n"));
            for attribute in &attributes {
                out.push_str(&format!(
                    "/// `Fn::GetAtt` `{attribute}`.\npub fn att_{}(&self) -> Expr {{\n\
                     Expr::get_att(self.logical_id(), \"{attribute}\")\n}}\n",
                    snake_case(&attribute.replace('.', "_"))
                ));
            }
            out.push_str("}\n");
        }
        for code in self.items.values() {
            out.push('\n');
            out.push_str(code);
        }
        Ok(out)
    }

    fn tags_code(&self, fields: &[Field]) -> anyhow::Result<String> {
        let Some(tags) = fields.iter().find(|f| f.cfn_name == "Tags") else {
            return Ok(String::new());
        };
        let ident = &tags.ident;
        match &tags.ty {
            FieldType::Json => Ok(format!(
                "fn add_missing_tags(&mut self, tags: &[(String, String)]) {{\n\
                 let map = self.{ident}.get_or_insert_with(|| Json::Object(Default::default()));\n\
                 if let Json::Object(map) = map {{\n\
                 for (key, value) in tags {{\n\
                 map.entry(key.clone()).or_insert_with(|| Json::String(value.clone()));\n\
                 }}\n}}\n}}\n"
            )),
            FieldType::Val(inner) => {
                let Some(tag_type) = inner
                    .strip_prefix("Vec<Val<")
                    .and_then(|s| s.strip_suffix(">>"))
                else {
                    return Ok(String::new());
                };
                let Some(tag_fields) = self.struct_fields_of(tag_type) else {
                    return Ok(String::new());
                };
                let key = tag_fields.iter().find(|f| f.cfn_name == "Key");
                let value = tag_fields.iter().find(|f| f.cfn_name == "Value");
                let (Some(key), Some(value)) = (key, value) else {
                    return Ok(String::new());
                };
                let others_required = tag_fields
                    .iter()
                    .any(|f| f.required && f.cfn_name != "Key" && f.cfn_name != "Value");
                if others_required {
                    return Ok(String::new());
                }
                let mut args = Vec::new();
                let mut setters = String::new();
                for f in tag_fields.iter().filter(|f| f.required) {
                    args.push(if f.cfn_name == "Key" {
                        "key.as_str()"
                    } else {
                        "value.as_str()"
                    });
                }
                for f in [key, value] {
                    if !f.required {
                        let src = if f.cfn_name == "Key" { "key" } else { "value" };
                        setters.push_str(&format!(".{}({src}.as_str())", f.ident));
                    }
                }
                let key_access = if key.required {
                    format!("&tag.{}", key.ident)
                } else {
                    format!(
                        "match &tag.{} {{ Some(k) => k, None => return false }}",
                        key.ident
                    )
                };
                Ok(format!(
                    "fn add_missing_tags(&mut self, tags: &[(String, String)]) {{\n\
                     let list = self.{ident}.get_or_insert_with(|| Val::Lit(Vec::new()));\n\
                     let Val::Lit(list) = list else {{ return }};\n\
                     for (key, value) in tags {{\n\
                     let present = list.iter().any(|tag| match tag {{\n\
                     Val::Lit(tag) => {{ let k: &Val<String> = {key_access}; matches!(k, Val::Lit(k) if k == key) }}\n\
                     Val::Expr(_) => false,\n}});\n\
                     if !present {{\n\
                     list.push(Val::Lit({tag_type}::new({}){setters}));\n\
                     }}\n}}\n}}\n",
                    args.join(", ")
                ))
            }
        }
    }

    fn struct_fields_of(&self, rust_name: &str) -> Option<Vec<Field>> {
        // The fields of a generated struct, recovered from its definition in the schema.
        let (def_name, _) = self
            .definitions
            .iter()
            .find(|(_, r)| r.as_str() == rust_name)?;
        let def = self.schema.get("definitions")?.get(def_name)?;
        let props = def.get("properties")?.as_object()?;
        let required = string_list(def.get("required"));
        Some(
            props
                .keys()
                .map(|name| Field {
                    cfn_name: name.clone(),
                    ident: rust_ident(&snake_case(name)),
                    ty: FieldType::Json,
                    required: required.contains(name),
                    doc: None,
                })
                .collect(),
        )
    }

    fn fields(
        &mut self,
        owner: &str,
        properties: &serde_json::Map<String, Value>,
        required: &[String],
    ) -> anyhow::Result<Vec<Field>> {
        let mut fields = Vec::new();
        for (name, node) in properties {
            let ty = self.type_of(node, &format!("{owner}{name}"), name)?;
            fields.push(Field {
                cfn_name: name.clone(),
                ident: rust_ident(&snake_case(name)),
                ty,
                required: required.contains(name),
                doc: doc_text(node),
            });
        }
        Ok(fields)
    }

    /// The field type for a schema node. `inline_name` names a struct or enum generated
    /// for an inline object or enumeration; `short_name` is tried first.
    fn type_of(
        &mut self,
        node: &Value,
        inline_name: &str,
        short_name: &str,
    ) -> anyhow::Result<FieldType> {
        if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
            let def_name = reference
                .strip_prefix("#/definitions/")
                .ok_or_else(|| anyhow!("{}: unsupported $ref {reference}", self.type_name))?;
            return self.definition_type(def_name);
        }
        if let Some(values) = enum_values(node) {
            let rust_name = self.unique_name(short_name, inline_name);
            self.emit_enum(&rust_name, node, &values);
            return Ok(FieldType::Val(rust_name));
        }
        let kind = node.get("type");
        match kind.and_then(Value::as_str) {
            Some("string") => Ok(FieldType::Val("String".to_owned())),
            Some("integer") => Ok(FieldType::Val("i64".to_owned())),
            Some("number") => Ok(FieldType::Val("f64".to_owned())),
            Some("boolean") => Ok(FieldType::Val("bool".to_owned())),
            Some("array") => {
                let items = node.get("items").cloned().unwrap_or(Value::Null);
                let item = self.type_of(
                    &items,
                    &format!("{inline_name}Item"),
                    &format!("{short_name}Item"),
                )?;
                Ok(FieldType::Val(format!("Vec<{}>", item.spelled())))
            }
            Some("object") if node.get("properties").is_some() => {
                let rust_name = self.unique_name(short_name, inline_name);
                self.emit_struct(&rust_name, node)?;
                Ok(FieldType::Val(rust_name))
            }
            _ => Ok(FieldType::Json),
        }
    }

    fn definition_type(&mut self, def_name: &str) -> anyhow::Result<FieldType> {
        if let Some(rust_name) = self.definitions.get(def_name) {
            let rust_name = rust_name.clone();
            // A definition that refers back to itself needs a box to have a finite size.
            return Ok(if self.in_progress.contains(def_name) {
                FieldType::Val(format!("Box<{rust_name}>"))
            } else {
                FieldType::Val(rust_name)
            });
        }
        let def = self
            .schema
            .get("definitions")
            .and_then(|d| d.get(def_name))
            .cloned()
            .ok_or_else(|| anyhow!("{}: missing definition {def_name}", self.type_name))?;
        let is_struct = def.get("properties").is_some()
            && matches!(
                def.get("type").and_then(Value::as_str),
                Some("object") | None
            );
        if is_struct {
            let rust_name = if def_name == self.name {
                format!("{def_name}Properties")
            } else {
                def_name.to_owned()
            };
            self.definitions
                .insert(def_name.to_owned(), rust_name.clone());
            self.in_progress.insert(def_name.to_owned());
            self.emit_struct(&rust_name, &def)?;
            self.in_progress.remove(def_name);
            Ok(FieldType::Val(rust_name))
        } else if let Some(values) = enum_values(&def) {
            // A named enumeration keeps the definition's name.
            self.definitions
                .insert(def_name.to_owned(), def_name.to_owned());
            self.emit_enum(def_name, &def, &values);
            Ok(FieldType::Val(def_name.to_owned()))
        } else {
            // Aliases of primitive types: use the primitive.
            self.type_of(&def, def_name, def_name)
        }
    }

    fn unique_name(&self, short: &str, long: &str) -> String {
        let taken = |n: &str| {
            self.items.contains_key(n)
                || n == self.name
                || self.definitions.values().any(|v| v == n)
                || self
                    .schema
                    .get("definitions")
                    .and_then(|d| d.get(n))
                    .is_some()
        };
        if !taken(short) {
            return short.to_owned();
        }
        let mut candidate = long.to_owned();
        let mut n = 2;
        while taken(&candidate) {
            candidate = format!("{long}{n}");
            n += 1;
        }
        candidate
    }

    fn emit_struct(&mut self, rust_name: &str, node: &Value) -> anyhow::Result<()> {
        // Reserve the name first so nested inline types do not take it.
        self.items.insert(rust_name.to_owned(), String::new());
        let props = node
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let required = string_list(node.get("required"));
        let fields = self.fields(rust_name, &props, &required)?;
        let doc = doc_text(node)
            .unwrap_or_else(|| format!("The `{rust_name}` property type of `{}`.", self.type_name));
        let mut code = struct_code(rust_name, &doc, &fields);
        code.push_str(&format!(
            "\nimpl From<{rust_name}> for Val<{rust_name}> {{\nfn from(value: {rust_name}) -> Self {{ Val::Lit(value) }}\n}}\n"
        ));
        code.push_str(&format!(
            "\nimpl From<{rust_name}> for Val<Box<{rust_name}>> {{\nfn from(value: {rust_name}) -> Self {{ Val::Lit(Box::new(value)) }}\n}}\n"
        ));
        self.items.insert(rust_name.to_owned(), code);
        Ok(())
    }

    fn emit_enum(&mut self, rust_name: &str, node: &Value, values: &[String]) {
        let mut used = BTreeSet::new();
        let mut variants = String::new();
        let mut arms = String::new();
        let mut all = Vec::new();
        for value in values {
            let mut variant = variant_name(value);
            let base = variant.clone();
            let mut n = 2;
            while !used.insert(variant.clone()) {
                variant = format!("{base}{n}");
                n += 1;
            }
            variants.push_str(&format!(
                "/// `{value}`\n#[serde(rename = {value:?})]\n{variant},\n"
            ));
            arms.push_str(&format!("{rust_name}::{variant} => {value:?},\n"));
            all.push(format!("{rust_name}::{variant}"));
        }
        let doc = doc_text(node).unwrap_or_else(|| format!("Allowed values of `{rust_name}`."));
        let code = format!(
            "{}#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]\npub enum {rust_name} {{\n{variants}}}\n\n\
             impl {rust_name} {{\n/// Every allowed value.\npub const ALL: &'static [{rust_name}] = &[{}];\n\n\
             /// The value as CloudFormation spells it.\npub fn as_str(self) -> &'static str {{\nmatch self {{\n{arms}}}\n}}\n}}\n\n\
             impl std::str::FromStr for {rust_name} {{\ntype Err = crate::UnknownValue;\n\n\
             fn from_str(text: &str) -> Result<Self, Self::Err> {{\n\
             crate::parse_allowed(text, \"{rust_name}\", Self::ALL, Self::as_str)\n}}\n}}\n\n\
             impl std::fmt::Display for {rust_name} {{\n\
             fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{\nf.write_str(self.as_str())\n}}\n}}\n\n\
             impl From<{rust_name}> for Val<{rust_name}> {{\nfn from(value: {rust_name}) -> Self {{ Val::Lit(value) }}\n}}\n",
            doc_lines(&doc),
            all.join(", ")
        );
        self.items.insert(rust_name.to_owned(), code);
    }
}

struct Field {
    cfn_name: String,
    ident: String,
    ty: FieldType,
    required: bool,
    doc: Option<String>,
}

impl Field {
    fn setter_param(&self) -> String {
        match &self.ty {
            FieldType::Json => "impl Into<Json>".to_owned(),
            FieldType::Val(inner) => format!("impl Into<Val<{inner}>>"),
        }
    }

    fn bare_ident(&self) -> &str {
        self.ident.trim_start_matches("r#")
    }
}

fn struct_code(name: &str, doc: &str, fields: &[Field]) -> String {
    let mut code = doc_lines(doc);
    code.push_str("#[derive(Clone, Debug, PartialEq, Serialize)]\n");
    code.push_str(&format!("pub struct {name} {{\n"));
    for f in fields {
        let mut text = f
            .doc
            .clone()
            .unwrap_or_else(|| format!("`{}`.", f.cfn_name));
        if f.required {
            text.push_str(" Required.");
        }
        code.push_str(&doc_lines(&text));
        if f.required {
            code.push_str(&format!(
                "#[serde(rename = \"{}\")]\npub {}: {},\n",
                f.cfn_name,
                f.ident,
                f.ty.spelled()
            ));
        } else {
            code.push_str(&format!(
                "#[serde(rename = \"{}\", skip_serializing_if = \"Option::is_none\")]\npub {}: Option<{}>,\n",
                f.cfn_name,
                f.ident,
                f.ty.spelled()
            ));
        }
    }
    code.push_str("}\n\n");
    let required: Vec<&Field> = fields.iter().filter(|f| f.required).collect();
    code.push_str(&format!("impl {name} {{\n"));
    let params: Vec<String> = required
        .iter()
        .map(|f| format!("{}: {}", f.ident, f.setter_param()))
        .collect();
    let inits: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.required {
                format!("{}: {}.into()", f.ident, f.ident)
            } else {
                format!("{}: None", f.ident)
            }
        })
        .collect();
    let new_doc = if required.is_empty() {
        format!("/// A `{name}` with no properties set.\n")
    } else {
        format!(
            "/// A `{name}` with its required properties ({}).\n",
            required
                .iter()
                .map(|f| format!("`{}`", f.cfn_name))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    code.push_str(&format!(
        "{new_doc}pub fn new({}) -> Self {{\nSelf {{ {} }}\n}}\n",
        params.join(", "),
        inits.join(", ")
    ));
    for f in fields {
        let assign = if f.required {
            "value.into()".to_owned()
        } else {
            "Some(value.into())".to_owned()
        };
        code.push_str(&format!(
            "\n/// Sets `{}`.\npub fn {}(mut self, value: {}) -> Self {{\nself.{} = {assign};\nself\n}}\n",
            f.cfn_name,
            if f.ident.starts_with("r#") { f.ident.clone() } else { f.bare_ident().to_owned() },
            f.setter_param(),
            f.ident
        ));
    }
    code.push_str("}\n");
    if required.is_empty() {
        code.push_str(&format!(
            "\nimpl Default for {name} {{\nfn default() -> Self {{ Self::new() }}\n}}\n"
        ));
    }
    code
}

fn enum_values(node: &Value) -> Option<Vec<String>> {
    let values = node
        .get("enum")
        .or_else(|| node.get("enumCaseInsensitive"))?
        .as_array()?;
    let strings: Vec<String> = values
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    // Integer enumerations stay integers.
    (strings.len() == values.len() && !strings.is_empty()).then_some(strings)
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `Fn::GetAtt` names from read-only property paths: `PrimaryEndPoint/Address` ->
/// `PrimaryEndPoint.Address`; a path that is the parent of another is an object, which
/// `Fn::GetAtt` cannot return.
fn attribute_names(read_only: &BTreeSet<String>) -> Vec<String> {
    read_only
        .iter()
        .filter(|path| {
            !read_only
                .iter()
                .any(|other| other.starts_with(&format!("{path}/")))
        })
        .map(|path| path.replace('/', "."))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_handles_acronyms_and_digits() {
        assert_eq!(snake_case("ReplicationGroupId"), "replication_group_id");
        assert_eq!(snake_case("IAMRoleARN"), "iam_role_arn");
        assert_eq!(snake_case("SSESpecification"), "sse_specification");
        assert_eq!(snake_case("IPV6Enabled"), "ipv6_enabled");
        assert_eq!(snake_case("CidrIpv6"), "cidr_ipv6");
        assert_eq!(snake_case("Type"), "type");
        assert_eq!(snake_case("CNAMEs"), "cnames");
    }

    #[test]
    fn variant_names_are_camel_case_without_acronyms() {
        assert_eq!(variant_name("redirect-to-https"), "RedirectToHttps");
        assert_eq!(variant_name("PER_RESOLVER_CACHING"), "PerResolverCaching");
        assert_eq!(variant_name("TLSv1.2_2021"), "TLSv122021");
        assert_eq!(variant_name("PriceClass_100"), "PriceClass100");
        assert_eq!(variant_name("3"), "V3");
    }

    #[test]
    fn nested_read_only_objects_are_not_attributes() {
        let read_only: BTreeSet<String> = ["PrimaryEndPoint", "PrimaryEndPoint/Address", "Arn"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            attribute_names(&read_only),
            vec!["Arn", "PrimaryEndPoint.Address"]
        );
    }
}
