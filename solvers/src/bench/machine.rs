//! What a benchmark table's caption says about the machine and the time, and the CPU
//! time and peak memory a measurement took (wall-clock times mislead on a shared
//! machine, CPU seconds less so).

/// CPU model and core count: `AMD EPYC, 2 cores`.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

/// [`machine`] and the memory installed, where /proc says: `AMD EPYC, 2 cores, 8 GiB`.
pub fn machine_with_memory() -> String {
    let mem = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        let kib: f64 = s.lines().next()?.split_whitespace().nth(1)?.parse().ok()?;
        Some(format!(", {:.0} GiB", kib / 1024.0 / 1024.0))
    });
    format!("{}{}", machine(), mem.unwrap_or_default())
}

/// The current UTC time as `YYYY-MM-DD HH:MM`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    utc(secs)
}

/// Seconds since the Unix epoch as a UTC `YYYY-MM-DD HH:MM` (days to the civil date
/// after H. Hinnant's algorithm).
pub fn utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// CPU seconds (user + system) used so far by this process (all threads); `NaN` where
/// the operating system does not say.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds_of(libc::RUSAGE_SELF)
}

/// CPU seconds (user + system) used so far by this process's finished children.
pub fn children_cpu_seconds() -> f64 {
    cpu_seconds_of(libc::RUSAGE_CHILDREN)
}

fn cpu_seconds_of(who: libc::c_int) -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut r) } != 0 {
        return f64::NAN;
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    t(r.ru_utime) + t(r.ru_stime)
}

/// Peak resident memory of this process so far in MiB (Linux `VmHWM`), `None` where
/// /proc is not available.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference dates from `date -u -d @SECS`.
    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00");
        assert_eq!(utc(951_825_600), "2000-02-29 12:00");
        assert_eq!(utc(1_796_083_200), "2026-12-01 00:00");
    }

    #[test]
    fn peak_rss_is_positive_on_linux() {
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(peak_rss_mib().is_some_and(|m| m > 0.0));
        }
    }

    /// Busy work shows as CPU time: the counter never goes back and grows.
    #[test]
    fn own_cpu_time_grows_with_work() {
        let before = own_cpu_seconds();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed().as_millis() < 50 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(own_cpu_seconds() > before, "{before}");
    }
}
