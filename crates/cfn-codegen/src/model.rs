//! The typed code model: what one generated resource module holds, before it is written
//! as Rust. [`crate::walk`] builds it from a schema; [`crate::emit`] writes it.

use std::collections::BTreeMap;

/// The Rust type of a property, as written in a field.
#[derive(Clone, Debug)]
pub enum FieldType {
    /// Free-form JSON (policy documents, tag maps, untyped values).
    Json,
    /// `Val<T>` with `T` spelled out.
    Val(String),
}

impl FieldType {
    /// The type as written in the struct.
    pub fn spelled(&self) -> String {
        match self {
            FieldType::Json => "Json".to_owned(),
            FieldType::Val(inner) => format!("Val<{inner}>"),
        }
    }

    /// The type a constructor or setter takes for it.
    pub fn param(&self) -> String {
        match self {
            FieldType::Json => "impl Into<Json>".to_owned(),
            FieldType::Val(inner) => format!("impl Into<Val<{inner}>>"),
        }
    }
}

/// One property of a resource or of a property type.
#[derive(Clone, Debug)]
pub struct Field {
    /// The CloudFormation name, which it serializes under.
    pub cfn_name: String,
    /// The Rust field name (`r#type` for keywords).
    pub ident: String,
    /// Its type.
    pub ty: FieldType,
    /// Required properties are constructor arguments and never absent.
    pub required: bool,
    /// The schema's description.
    pub doc: Option<String>,
}

/// A generated struct: the resource's properties or a property type.
#[derive(Clone, Debug)]
pub struct StructItem {
    /// Rust name.
    pub name: String,
    /// Doc text.
    pub doc: String,
    /// Its properties, in schema order.
    pub fields: Vec<Field>,
}

/// One value of a generated enum.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Rust variant name.
    pub name: String,
    /// The value as CloudFormation spells it.
    pub value: String,
}

/// A generated enum: the allowed values of a property.
#[derive(Clone, Debug)]
pub struct EnumItem {
    /// Rust name.
    pub name: String,
    /// Doc text.
    pub doc: String,
    /// Its values, in schema order.
    pub variants: Vec<Variant>,
}

/// A named item of a resource module besides the resource struct.
#[derive(Clone, Debug)]
pub enum Item {
    /// A name taken while the type that will hold it is being built.
    Reserved,
    /// A property type.
    Struct(StructItem),
    /// An enumeration.
    Enum(EnumItem),
}

/// How a resource's `Tags` property takes the template-wide tags.
#[derive(Clone, Debug)]
pub enum Tags {
    /// A JSON object of key to value.
    Map {
        /// The `Tags` field.
        field: String,
    },
    /// A list of `{Key, Value}` structs.
    List {
        /// The `Tags` field.
        field: String,
        /// The Rust name of the tag struct.
        tag_type: String,
        /// Its `Key` field.
        key: TagField,
        /// Its `Value` field.
        value: TagField,
    },
}

/// The `Key` or `Value` field of a tag struct.
#[derive(Clone, Debug)]
pub struct TagField {
    /// The Rust field name.
    pub ident: String,
    /// Whether the tag struct's constructor takes it.
    pub required: bool,
}

impl From<&Field> for TagField {
    fn from(field: &Field) -> Self {
        Self {
            ident: field.ident.clone(),
            required: field.required,
        }
    }
}

/// Everything generated for one resource type.
#[derive(Clone, Debug)]
pub struct ResourceModule {
    /// `AWS::Service::Resource`.
    pub type_name: String,
    /// The resource's properties.
    pub resource: StructItem,
    /// `Fn::GetAtt` attribute names, dotted.
    pub attributes: Vec<String>,
    /// The schema's `createOnlyProperties`, as paths below `Properties` (`A` or `A/B`):
    /// changing one replaces the resource.
    pub create_only: Vec<String>,
    /// The create-only properties that give the resource its physical name (see
    /// [`crate::schema::name_properties`]).
    pub name_properties: Vec<String>,
    /// How it takes the template's tags, when it has tags.
    pub tags: Option<Tags>,
    /// Property types and enumerations by Rust name (sorted, for stable output).
    pub items: BTreeMap<String, Item>,
}
