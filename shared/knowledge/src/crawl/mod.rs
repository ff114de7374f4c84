//! Crawling a website (API.md §13): which addresses may be fetched, which URLs are the same
//! page and which are in a source's scope. What a crawl fetches is hostile until proven
//! otherwise: every address is checked after name resolution, on every request and every
//! redirect.

pub mod address;
pub mod crawler;
pub mod fetch;
pub mod robots;
pub mod sitemap;
pub mod urls;
