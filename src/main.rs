//! The `nashra` binary: everything is in the library; see `nashra --help`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    nashra::cli::run().await
}
