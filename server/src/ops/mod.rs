pub mod audit;
pub mod guard;
pub mod migrate;
pub mod schema_doc;
pub mod seed;
