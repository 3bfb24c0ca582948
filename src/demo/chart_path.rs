//! Where the chart goes: the path asked for, or, while another demo
//! running at the same time holds it, the next free one (`leak-demo-2.svg`,
//! `leak-demo-3.svg`, ...), so that two demos at once never write one file.
//! A demo holds its chart's path with an advisory lock (`flock`) on the
//! file until it ends; the kernel lets go of it however the demo ends.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::demo::error::DemoError;

/// Other names tried before giving up.
const TRIES: usize = 100;

/// A chart's path, held by this demo until dropped.
#[derive(Debug)]
pub(crate) struct ClaimedChart {
    pub(crate) path: PathBuf,
    file: File,
    /// Whether the file was made here: an empty one made here (the demo
    /// failed before drawing) is removed when dropped.
    made: bool,
}

impl ClaimedChart {
    /// Fails now, not after every scenario ran, if no chart can be written
    /// at `asked` (or a numbered name beside it); makes its folder if there
    /// is none. A file already there is left as it is until the chart is
    /// drawn.
    pub(crate) fn claim(asked: &Path) -> Result<ClaimedChart, DemoError> {
        let failed = |path: &Path, err: std::io::Error| DemoError::Chart {
            path: path.display().to_string(),
            reason: err.to_string(),
        };
        if let Some(folder) = asked
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty())
        {
            std::fs::create_dir_all(folder).map_err(|err| failed(asked, err))?;
        }
        for n in 1..=TRIES {
            let path = numbered(asked, n);
            let made = !path.exists();
            let file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .map_err(|err| failed(&path, err))?;
            if hold(&file) {
                return Ok(ClaimedChart { path, file, made });
            }
        }
        Err(failed(
            asked,
            std::io::Error::other(format!(
                "{TRIES} demos hold this chart and its numbered names"
            )),
        ))
    }
}

/// Whether this demo now holds `file`: false while another demo does.
#[cfg(unix)]
fn hold(file: &File) -> bool {
    use rustix::fs::{FlockOperation, flock};
    !matches!(
        flock(file, FlockOperation::NonBlockingLockExclusive),
        Err(rustix::io::Errno::WOULDBLOCK)
    )
}

#[cfg(not(unix))]
fn hold(_file: &File) -> bool {
    true
}

/// `leak-demo.svg`, then `leak-demo-2.svg`, `leak-demo-3.svg`, ...
fn numbered(path: &Path, n: usize) -> PathBuf {
    if n == 1 {
        return path.to_path_buf();
    }
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let name = match path.extension() {
        Some(extension) => format!("{stem}-{n}.{}", extension.to_string_lossy()),
        None => format!("{stem}-{n}"),
    };
    path.with_file_name(name)
}

impl Drop for ClaimedChart {
    fn drop(&mut self) {
        if self.made && self.file.metadata().is_ok_and(|meta| meta.len() == 0) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_held_by_another_demo_goes_to_the_next_free_name() {
        let folder = std::env::temp_dir().join(format!("chart-path-{}", std::process::id()));
        let asked = folder.join("leak-demo.svg");
        let first = ClaimedChart::claim(&asked).unwrap();
        let second = ClaimedChart::claim(&asked).unwrap();
        assert_eq!(first.path, asked);
        assert_eq!(second.path, folder.join("leak-demo-2.svg"));
        drop((first, second));
        // Neither drew: both files made here are gone.
        assert!(!asked.exists() && !folder.join("leak-demo-2.svg").exists());
        let _ = std::fs::remove_dir(&folder);
    }
}
