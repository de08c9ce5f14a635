pub mod audit;
pub mod citus;
pub mod demo_content;
pub mod guard;
pub mod migrate;
pub mod schema_doc;
pub mod seed;
pub mod vault_keys;
