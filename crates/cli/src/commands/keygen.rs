use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files are written to PREFIX.key.pem and PREFIX.pub.pem.
    #[arg(long, value_name = "PREFIX")]
    out: PathBuf,
    /// Modulus size: 2048, 3072 or 4096.
    #[arg(long, default_value_t = 2048)]
    bits: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (private, public) = write_key_pair(&args.out, args.bits)?;
    println!("{}", private.display());
    println!("{}", public.display());
    Ok(ExitCode::SUCCESS)
}

/// Generates a pair and writes it; the private key file is created with
/// mode 0600 and an existing file is never overwritten.
pub fn write_key_pair(prefix: &Path, bits: usize) -> anyhow::Result<(PathBuf, PathBuf)> {
    let pair = payfac_signing::generate_key_pair(bits)?;
    let private = with_suffix(prefix, ".key.pem");
    let public = with_suffix(prefix, ".pub.pem");
    for path in [&private, &public] {
        anyhow::ensure!(
            !path.exists(),
            "{} already exists; not overwriting it",
            path.display()
        );
    }
    write_new(&private, &pair.private_pem, 0o600)?;
    write_new(&public, &pair.public_pem, 0o644)?;
    Ok((private, public))
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn write_new(path: &Path, contents: &str, mode: u32) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
