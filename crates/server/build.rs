//! Minifies the in-call widget's script for serving (see `http/web.rs`): parsed and printed
//! again by oxc without comments or layout, so the bytes browsers fetch stay within the
//! widget's budget while `web/embed/` keeps its comments. A script that does not parse stops
//! the build.

use std::path::PathBuf;

use oxc_allocator::Allocator;
use oxc_codegen::{Codegen, CodegenOptions};
use oxc_parser::Parser;
use oxc_span::SourceType;

const WIDGET: &str = "../../web/embed/pillow-incall-calendar.js";

fn main() {
    println!("cargo::rerun-if-changed={WIDGET}");
    let source = std::fs::read_to_string(WIDGET).expect("the widget's script is readable");
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, &source, SourceType::mjs()).parse();
    if !parsed.diagnostics.is_empty() || parsed.panicked {
        panic!("{WIDGET} does not parse: {:?}", parsed.diagnostics);
    }
    let minified = Codegen::new()
        .with_options(CodegenOptions::minify())
        .build(&parsed.program)
        .code;
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("pillow-incall-calendar.min.js"), minified)
        .expect("OUT_DIR is writable");
}
