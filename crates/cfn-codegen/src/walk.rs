//! From a resource provider schema to the code model: which structs and enums a
//! resource needs, their names, fields and types.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::anyhow;
use serde_json::Value;

use crate::model::{EnumItem, Field, FieldType, Item, ResourceModule, StructItem, Tags, Variant};
use crate::names::{rust_ident, snake_case, variant_name};
use crate::schema::{
    attribute_names, doc_text, enum_values, name_properties, property_paths, string_list,
};

/// The code model of the resource type `type_name` (Rust name `name`) from its schema.
pub fn resource_module(
    type_name: &str,
    name: &str,
    schema: &Value,
) -> anyhow::Result<ResourceModule> {
    Walker {
        type_name,
        name: name.to_owned(),
        schema,
        items: BTreeMap::new(),
        definitions: BTreeMap::new(),
        in_progress: BTreeSet::new(),
    }
    .resource()
}

struct Walker<'a> {
    type_name: &'a str,
    name: String,
    schema: &'a Value,
    /// Items by Rust name (structs and enums), sorted for stable output.
    items: BTreeMap<String, Item>,
    /// Definition name -> Rust name, for definitions already generated or in progress.
    definitions: BTreeMap<String, String>,
    in_progress: BTreeSet<String>,
}

impl Walker<'_> {
    fn resource(mut self) -> anyhow::Result<ResourceModule> {
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
        let tags = self.tags(&fields);
        let create_only = property_paths(self.schema.get("createOnlyProperties"));
        let primary = property_paths(self.schema.get("primaryIdentifier"));
        Ok(ResourceModule {
            type_name: self.type_name.to_owned(),
            name_properties: name_properties(&name, &create_only, &primary),
            create_only,
            resource: StructItem { name, doc, fields },
            attributes: attribute_names(&read_only),
            tags,
            items: self.items,
        })
    }

    /// How the resource takes the template's tags: a JSON map, or a list of a tag struct
    /// (a schema definition) with `Key` and `Value` and nothing else required.
    fn tags(&self, fields: &[Field]) -> Option<Tags> {
        let tags = fields.iter().find(|f| f.cfn_name == "Tags")?;
        let field = tags.ident.clone();
        let inner = match &tags.ty {
            FieldType::Json => return Some(Tags::Map { field }),
            FieldType::Val(inner) => inner,
        };
        let tag_type = inner.strip_prefix("Vec<Val<")?.strip_suffix(">>")?;
        if !self.definitions.values().any(|r| r == tag_type) {
            return None;
        }
        let Some(Item::Struct(tag)) = self.items.get(tag_type) else {
            return None;
        };
        let key = tag.fields.iter().find(|f| f.cfn_name == "Key")?;
        let value = tag.fields.iter().find(|f| f.cfn_name == "Value")?;
        let others_required = tag
            .fields
            .iter()
            .any(|f| f.required && f.cfn_name != "Key" && f.cfn_name != "Value");
        (!others_required).then(|| Tags::List {
            field,
            tag_type: tag_type.to_owned(),
            key: key.into(),
            value: value.into(),
        })
    }

    /// The fields of `properties`; `owner` prefixes the names of inline types.
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
            self.add_enum(&rust_name, node, &values);
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
                self.add_struct(&rust_name, node)?;
                Ok(FieldType::Val(rust_name))
            }
            _ => Ok(FieldType::Json),
        }
    }

    /// The field type for `#/definitions/<def_name>`, generating it the first time.
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
            self.add_struct(&rust_name, &def)?;
            self.in_progress.remove(def_name);
            Ok(FieldType::Val(rust_name))
        } else if let Some(values) = enum_values(&def) {
            // A named enumeration keeps the definition's name.
            self.definitions
                .insert(def_name.to_owned(), def_name.to_owned());
            self.add_enum(def_name, &def, &values);
            Ok(FieldType::Val(def_name.to_owned()))
        } else {
            // Aliases of primitive types: use the primitive.
            self.type_of(&def, def_name, def_name)
        }
    }

    /// `short` if no item or definition has it, else `long` (numbered if need be).
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

    fn add_struct(&mut self, rust_name: &str, node: &Value) -> anyhow::Result<()> {
        // Reserve the name first so nested inline types do not take it.
        self.items.insert(rust_name.to_owned(), Item::Reserved);
        let props = node
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let required = string_list(node.get("required"));
        let fields = self.fields(rust_name, &props, &required)?;
        let doc = doc_text(node)
            .unwrap_or_else(|| format!("The `{rust_name}` property type of `{}`.", self.type_name));
        self.items.insert(
            rust_name.to_owned(),
            Item::Struct(StructItem {
                name: rust_name.to_owned(),
                doc,
                fields,
            }),
        );
        Ok(())
    }

    fn add_enum(&mut self, rust_name: &str, node: &Value, values: &[String]) {
        let mut used = BTreeSet::new();
        let variants = values
            .iter()
            .map(|value| {
                let base = variant_name(value);
                let mut name = base.clone();
                let mut n = 2;
                while !used.insert(name.clone()) {
                    name = format!("{base}{n}");
                    n += 1;
                }
                Variant {
                    name,
                    value: value.clone(),
                }
            })
            .collect();
        let doc = doc_text(node).unwrap_or_else(|| format!("Allowed values of `{rust_name}`."));
        self.items.insert(
            rust_name.to_owned(),
            Item::Enum(EnumItem {
                name: rust_name.to_owned(),
                doc,
                variants,
            }),
        );
    }
}
