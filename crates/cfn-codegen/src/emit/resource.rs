//! A resource's module: the resource struct, its `Resource` impl (type name, attributes,
//! how it takes the template's tags), its accessors and every item it needs.

use super::attributes::accessors;
use super::enumeration::enum_code;
use super::property_type::{property_type_code, struct_code};
use crate::model::{Item, ResourceModule, Tags};

/// The whole module body for one resource type.
pub fn resource_module(module: &ResourceModule) -> String {
    let name = &module.resource.name;
    let mut out = format!(
        "#![allow(clippy::too_many_arguments, clippy::wrong_self_convention, clippy::enum_variant_names, \
         clippy::should_implement_trait, clippy::large_enum_variant)]\n\
         //! `{}` and its property types.\n\nuse serde::Serialize;\n\n\
         #[allow(unused_imports)]\nuse crate::expr::{{Expr, Json, Val}};\n\n",
        module.type_name
    );
    out.push_str(&struct_code(&module.resource));
    out.push_str(&format!(
        "\nimpl crate::template::Resource for {name} {{\n\
         const TYPE: &'static str = \"{}\";\n\
         const ATTRIBUTES: &'static [&'static str] = &[{}];\n{}}}\n",
        module.type_name,
        module
            .attributes
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", "),
        module.tags.as_ref().map(tags_code).unwrap_or_default()
    ));
    out.push_str(&accessors(name, &module.attributes));
    let list = |items: &[String]| {
        items
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.push_str(&format!(
        "\n/// The schema's `createOnlyProperties` (paths below `Properties`): changing one \
         replaces the resource.\npub const CREATE_ONLY_PROPERTIES: &[&str] = &[{}];\n\
         /// The create-only properties that give the resource its physical name: set, \
         they make a replacement fail.\npub const NAME_PROPERTIES: &[&str] = &[{}];\n",
        list(&module.create_only),
        list(&module.name_properties)
    ));
    for item in module.items.values() {
        out.push('\n');
        out.push_str(&match item {
            Item::Reserved => String::new(),
            Item::Struct(s) => property_type_code(s),
            Item::Enum(e) => enum_code(e),
        });
    }
    out
}

/// `add_missing_tags`: adds each template tag the resource does not set itself.
fn tags_code(tags: &Tags) -> String {
    match tags {
        Tags::Map { field } => format!(
            "fn add_missing_tags(&mut self, tags: &[(String, String)]) {{\n\
             let map = self.{field}.get_or_insert_with(|| Json::Object(Default::default()));\n\
             if let Json::Object(map) = map {{\n\
             for (key, value) in tags {{\n\
             map.entry(key.clone()).or_insert_with(|| Json::String(value.clone()));\n\
             }}\n}}\n}}\n"
        ),
        Tags::List {
            field,
            tag_type,
            key,
            value,
        } => {
            // The constructor takes the required ones (in field order), setters the others.
            let args: Vec<&str> = [(key, "key"), (value, "value")]
                .into_iter()
                .filter(|(f, _)| f.required)
                .map(|(_, src)| {
                    if src == "key" {
                        "key.as_str()"
                    } else {
                        "value.as_str()"
                    }
                })
                .collect();
            let setters: String = [(key, "key"), (value, "value")]
                .into_iter()
                .filter(|(f, _)| !f.required)
                .map(|(f, src)| format!(".{}({src}.as_str())", f.ident))
                .collect();
            let key_access = if key.required {
                format!("&tag.{}", key.ident)
            } else {
                format!(
                    "match &tag.{} {{ Some(k) => k, None => return false }}",
                    key.ident
                )
            };
            format!(
                "fn add_missing_tags(&mut self, tags: &[(String, String)]) {{\n\
                 let list = self.{field}.get_or_insert_with(|| Val::Lit(Vec::new()));\n\
                 let Val::Lit(list) = list else {{ return }};\n\
                 for (key, value) in tags {{\n\
                 let present = list.iter().any(|tag| match tag {{\n\
                 Val::Lit(tag) => {{ let k: &Val<String> = {key_access}; matches!(k, Val::Lit(k) if k == key) }}\n\
                 Val::Expr(_) => false,\n}});\n\
                 if !present {{\n\
                 list.push(Val::Lit({tag_type}::new({}){setters}));\n\
                 }}\n}}\n}}\n",
                args.join(", ")
            )
        }
    }
}
