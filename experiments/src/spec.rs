//! Experiment specs (design §7): TOML files in `experiments/` naming configurations
//! (generated or given markets), methods, engine settings and outputs.
//!
//! ```toml
//! name = "table1"                      # required; default output folder = <spec dir>/<name>
//! methods = ["lp/welfare", "fair/demand", "utility-aware/demand"]
//!
//! [engine]                             # optional; every field optional (engine defaults)
//! eta = 0.02
//! epsilon = 0.03
//! window = 50
//! rounds = 20000
//! ceiling = 20
//! potential = "quadratic"              # or "exponential"
//! weight_floor = 1.0                   # default: the smallest valuation
//! welfare_scale = 3                    # welfare-seeking c; default: the engine's (3 demand, 1 feasible)
//! momentum = 0.95                      # momentum β on pushes, in [0, 1); default: the engine's (0.98 demand, 0.95 feasible)
//! runtime = "flat"                     # or "nodes", "timely": who runs the nodes (same results)
//! workers = 2                          # timely only: worker threads per scenario run
//! backend = "auto"                     # LP backend
//! faults = "faults.json"               # a fault schedule (relative to the spec) for every engine row; flat or nodes
//!
//! [outputs]                            # optional
//! figures = true
//! trace = { configuration = "K5", scenario = "1" }   # Figs. 4–5
//!
//! [[configuration]]                    # generated: K, B, P and every generator option
//! name = "K5"
//! seeds = 100                          # scenarios = seeds first_seed .. first_seed+seeds-1
//! first_seed = 1                       # optional, default 1
//! paper = { gain_percent = 16.2, percent_of_optimum = 62 }   # optional, [MCF-Grid] Table 1
//! methods = ["lp/welfare"]             # optional, overrides the top-level list
//! [configuration.generator]            # brokerflow_graphs::generate::GeneratorConfig
//! users = 5
//! brokers = 5
//! providers = 5
//!
//! [[configuration]]                    # given: market files (JSON, or mcf by extension
//! name = "benchmarks"                  # .txt/.mcf), paths and globs relative to the spec
//! markets = ["../graphs/markets/mcf/*.txt"]
//! ```

use std::path::{Path, PathBuf};

use brokerflow_graphs::generate::GeneratorConfig;
use brokerflow_solvers::compare::Method;
use brokerflow_solvers::engine::{EngineOptions, Injection, Potential, Runtime, Variant};
use brokerflow_solvers::lp::Backend;
use serde::Deserialize;
use thiserror::Error;

/// A spec that cannot be used: always names the file, and the field where there is one.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The file cannot be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The spec file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// TOML syntax, a missing or unknown field, or a value of the wrong type.
    #[error("{file}{line}: {field}: {message}")]
    Toml {
        /// The spec file.
        file: String,
        /// `:LINE` when known.
        line: String,
        /// The field's path, e.g. `configuration[1].generator.users`.
        field: String,
        /// The parser's message.
        message: String,
    },
    /// A field's value breaks a rule.
    #[error("{file}: {field}: {message}")]
    Field {
        /// The spec file.
        file: String,
        /// The field's path.
        field: String,
        /// The rule broken.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: String,
    #[serde(default)]
    description: Option<String>,
    methods: Vec<String>,
    #[serde(default)]
    engine: RawEngine,
    #[serde(default)]
    outputs: RawOutputs,
    configuration: Vec<RawConfiguration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEngine {
    eta: Option<f64>,
    epsilon: Option<f64>,
    window: Option<usize>,
    rounds: Option<usize>,
    ceiling: Option<f64>,
    potential: Option<String>,
    weight_floor: Option<f64>,
    welfare_scale: Option<f64>,
    momentum: Option<f64>,
    runtime: Option<String>,
    workers: Option<usize>,
    backend: Option<String>,
    faults: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutputs {
    #[serde(default = "yes")]
    figures: bool,
    #[serde(default)]
    trace: Option<RawTrace>,
}

fn yes() -> bool {
    true
}

impl Default for RawOutputs {
    fn default() -> Self {
        RawOutputs {
            figures: true,
            trace: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrace {
    configuration: String,
    scenario: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfiguration {
    name: String,
    seeds: Option<u64>,
    first_seed: Option<u64>,
    generator: Option<GeneratorConfig>,
    markets: Option<Vec<String>>,
    methods: Option<Vec<String>>,
    paper: Option<PaperNumbers>,
}

/// \[MCF-Grid\] Table 1's numbers for a configuration, printed beside brokerflow's.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperNumbers {
    /// "Utility gained" by utility-aware over fair, in percent.
    pub gain_percent: f64,
    /// "Global utility": percent of the optimum reached.
    pub percent_of_optimum: f64,
}

/// A given market file, read when the spec is loaded (so an unreadable file is a spec
/// error) and parsed when its scenario runs (so an invalid one is a failed row).
#[derive(Debug, Clone)]
pub struct MarketFile {
    /// The path as found (relative to the working directory).
    pub path: PathBuf,
    /// The scenario's name: the path relative to the spec's folder, as written.
    pub label: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

/// Where a configuration's scenarios come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Random markets: scenario `seed` is `generate(config, seed)`.
    Generated {
        /// The generator's settings.
        config: Box<GeneratorConfig>,
        /// The seeds, in order.
        seeds: Seeds,
    },
    /// Market files, one scenario each.
    Given(Vec<MarketFile>),
}

/// A configuration's seeds: `first`, `first + 1`, … — `count` of them, held as two
/// numbers so a spec of a billion seeds costs nothing until its scenarios run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeds {
    first: u64,
    count: u64,
}

impl Seeds {
    /// `count` seeds from `first`; `None` if the last would overflow u64.
    pub fn new(first: u64, count: u64) -> Option<Seeds> {
        first.checked_add(count.checked_sub(1)?)?;
        Some(Seeds { first, count })
    }

    /// How many.
    pub fn len(&self) -> usize {
        usize::try_from(self.count).unwrap_or(usize::MAX)
    }

    /// Never: a configuration has at least one seed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The `i`-th seed (`i < len()`).
    pub fn get(&self, i: usize) -> u64 {
        self.first + i as u64
    }

    /// The position of `seed`, if it is one of them.
    pub fn position(&self, seed: u64) -> Option<usize> {
        (seed >= self.first && seed - self.first < self.count)
            .then(|| usize::try_from(seed - self.first).ok())
            .flatten()
    }

    /// The first seed.
    pub fn first(&self) -> u64 {
        self.first
    }

    /// The last seed.
    pub fn last(&self) -> u64 {
        self.first + (self.count - 1)
    }
}

/// One configuration: a named family of scenarios and the methods run on each.
#[derive(Debug, Clone)]
pub struct Configuration {
    /// Its name, unique in the spec.
    pub name: String,
    /// Its scenarios.
    pub source: Source,
    /// Methods run on each scenario, in output order.
    pub methods: Vec<Method>,
    /// The paper's numbers, for the Table 1 comparison.
    pub paper: Option<PaperNumbers>,
}

impl Configuration {
    /// Number of scenarios.
    pub fn scenarios(&self) -> usize {
        match &self.source {
            Source::Generated { seeds, .. } => seeds.len(),
            Source::Given(files) => files.len(),
        }
    }

    /// The name of scenario `i`: its seed, or its file's path as written.
    pub fn scenario_label(&self, i: usize) -> String {
        match &self.source {
            Source::Generated { seeds, .. } => seeds.get(i).to_string(),
            Source::Given(files) => files[i].label.clone(),
        }
    }

    /// The index of the scenario named `label`.
    pub fn scenario_index(&self, label: &str) -> Option<usize> {
        (0..self.scenarios()).find(|&i| self.scenario_label(i) == label)
    }
}

/// A validated experiment spec.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The spec file.
    pub path: PathBuf,
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The configurations, in order.
    pub configurations: Vec<Configuration>,
    /// Engine settings of every engine row (variant and injection set per row).
    pub engine: EngineOptions,
    /// LP backend.
    pub backend: Backend,
    /// The timely runtime's worker threads per engine run (1 for other runtimes).
    pub workers: usize,
    /// `[engine] faults`: the fault file (relative to the spec) every engine row runs
    /// under, parsed; checked against each scenario's market when it runs (design §5,
    /// "Faults").
    pub faults: Option<(PathBuf, brokerflow_solvers::engine::faults::FaultSchedule)>,
    /// Whether to draw the figures.
    pub figures: bool,
    /// The scenario of Figs. 4–5: (configuration index, scenario index).
    pub trace: Option<(usize, usize)>,
    /// SHA-256 over the spec's bytes and every market file it reads, in order.
    pub sha256: String,
}

impl Spec {
    /// Reads and validates a spec file.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            file: file.clone(),
            source,
        })?;
        Spec::parse(&text, path)
    }

    /// Validates spec text read from `path` (used for messages and relative paths).
    pub fn parse(text: &str, path: &Path) -> Result<Spec, SpecError> {
        let file = path.display().to_string();
        let toml_error = |field: String, e: &toml::de::Error| SpecError::Toml {
            file: file.clone(),
            line: e
                .span()
                .map(|s| {
                    format!(
                        ":{}",
                        text[..s.start.min(text.len())].lines().count().max(1)
                    )
                })
                .unwrap_or_default(),
            field,
            message: e.message().trim().to_string(),
        };
        if text.trim_start_matches('\u{feff}').trim().is_empty() {
            return Err(SpecError::Toml {
                file: file.clone(),
                line: String::new(),
                field: "(top level)".into(),
                message: "the file is empty; a spec is TOML with name = \"…\", methods = [\"…\"] and at least one [[configuration]] table".into(),
            });
        }
        let de = toml::Deserializer::parse(text).map_err(|e| toml_error("(syntax)".into(), &e))?;
        let raw: RawSpec = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = match e.path().to_string() {
                p if p == "." => "(top level)".to_string(),
                p => p,
            };
            toml_error(field, e.inner())
        })?;
        let bad = |field: &str, message: String| SpecError::Field {
            file: file.clone(),
            field: field.to_string(),
            message,
        };
        let odd_name = raw.name.trim().is_empty()
            || raw.name.contains(['/', '\\'])
            || raw.name.chars().any(char::is_control)
            || raw.name == "."
            || raw.name == "..";
        if odd_name {
            return Err(bad(
                "name",
                "must be a non-empty name without slashes, control characters, '.' or '..' (it names the output folder)".into(),
            ));
        }
        let methods = parse_methods(&raw.methods).map_err(|m| bad("methods", m))?;
        let dir = path.parent().unwrap_or(Path::new(""));
        let mut hashed: Vec<u8> = text.as_bytes().to_vec();
        let mut configurations = Vec::new();
        if raw.configuration.is_empty() {
            return Err(bad(
                "configuration",
                "at least one [[configuration]] is needed".into(),
            ));
        }
        for (i, c) in raw.configuration.into_iter().enumerate() {
            let at = |f: &str| format!("configuration[{i}].{f}");
            if c.name.trim().is_empty() || c.name.contains(',') {
                return Err(bad(
                    &at("name"),
                    "must be non-empty and contain no comma".into(),
                ));
            }
            if configurations
                .iter()
                .any(|x: &Configuration| x.name == c.name)
            {
                return Err(bad(&at("name"), format!("'{}' is used twice", c.name)));
            }
            let methods = match &c.methods {
                Some(m) => parse_methods(m).map_err(|m| bad(&at("methods"), m))?,
                None => methods.clone(),
            };
            let source = match (c.generator, c.markets) {
                (Some(g), None) => {
                    if g.users == 0 {
                        return Err(bad(
                            &at("generator.users"),
                            "must be at least 1: a market without users routes nothing".into(),
                        ));
                    }
                    g.validate().map_err(|e| {
                        bad(
                            &at(&format!("generator.{}", e.field().unwrap_or("(any)"))),
                            e.to_string(),
                        )
                    })?;
                    let n = c.seeds.ok_or_else(|| {
                        bad(&at("seeds"), "missing: how many scenarios (seeds) to run".into())
                    })?;
                    if n == 0 {
                        return Err(bad(&at("seeds"), "must be at least 1".into()));
                    }
                    let first = c.first_seed.unwrap_or(1);
                    let seeds = Seeds::new(first, n)
                        .ok_or_else(|| bad(&at("first_seed"), "seeds overflow u64".into()))?;
                    Source::Generated {
                        config: Box::new(g),
                        seeds,
                    }
                }
                (None, Some(patterns)) => {
                    if c.seeds.is_some() || c.first_seed.is_some() {
                        return Err(bad(
                            &at("seeds"),
                            "only generated configurations have seeds".into(),
                        ));
                    }
                    let files = find_markets(dir, &patterns)
                        .map_err(|(j, m)| bad(&at(&format!("markets[{j}]")), m))?;
                    for f in &files {
                        hashed.extend_from_slice(&f.bytes);
                    }
                    Source::Given(files)
                }
                _ => {
                    return Err(bad(
                        &at("generator"),
                        "give exactly one of [configuration.generator] (random markets) or markets = [...] (files)".into(),
                    ))
                }
            };
            configurations.push(Configuration {
                name: c.name,
                source,
                methods,
                paper: c.paper,
            });
        }
        let (engine, backend) = engine_options(&raw.engine).map_err(|(f, m)| bad(f, m))?;
        let faults = match &raw.engine.faults {
            None => None,
            Some(f) => {
                if !engine.runtime.supports_faults() {
                    return Err(bad(
                        "engine.faults",
                        format!("the {} runtime does not run fault schedules; use runtime = \"flat\" or \"nodes\"", engine.runtime.name()),
                    ));
                }
                let file = dir.join(f);
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    bad(
                        "engine.faults",
                        format!("{}: cannot read: {e}", file.display()),
                    )
                })?;
                hashed.extend_from_slice(text.as_bytes());
                let schedule =
                    brokerflow_solvers::engine::faults::parse(&text, &file.display().to_string())
                        .map_err(|e| bad("engine.faults", e.to_string()))?;
                Some((file, schedule))
            }
        };
        let trace = match raw.outputs.trace {
            None => None,
            Some(t) => {
                let ci = configurations
                    .iter()
                    .position(|c| c.name == t.configuration)
                    .ok_or_else(|| {
                        bad(
                            "outputs.trace.configuration",
                            format!("no configuration is named '{}'", t.configuration),
                        )
                    })?;
                let si = configurations[ci]
                    .scenario_index(&t.scenario)
                    .ok_or_else(|| {
                        bad(
                            "outputs.trace.scenario",
                            format!(
                                "configuration '{}' has no scenario '{}'",
                                t.configuration, t.scenario
                            ),
                        )
                    })?;
                Some((ci, si))
            }
        };
        Ok(Spec {
            path: path.to_path_buf(),
            name: raw.name,
            description: raw.description,
            configurations,
            engine,
            backend,
            workers: raw.engine.workers.unwrap_or(1),
            faults,
            figures: raw.outputs.figures,
            trace,
            sha256: brokerflow_graphs::input_hash(&hashed),
        })
    }
}

fn parse_methods(labels: &[String]) -> Result<Vec<Method>, String> {
    if labels.is_empty() {
        return Err("at least one method is needed".into());
    }
    let mut out: Vec<Method> = Vec::new();
    for l in labels {
        let m = Method::from_label(l).ok_or_else(|| {
            let known: Vec<String> = Method::ALL.iter().map(|m| m.label()).collect();
            format!("unknown method '{l}' (known: {})", known.join(", "))
        })?;
        if out.contains(&m) {
            return Err(format!("'{l}' is listed twice"));
        }
        out.push(m);
    }
    Ok(out)
}

fn engine_options(raw: &RawEngine) -> Result<(EngineOptions, Backend), (&'static str, String)> {
    let mut o = EngineOptions::new(Variant::Fair, Injection::Demand);
    if let Some(x) = raw.eta {
        o.eta = x;
    }
    if let Some(x) = raw.epsilon {
        o.epsilon = x;
    }
    if let Some(x) = raw.window {
        o.window = x;
    }
    if let Some(x) = raw.rounds {
        o.max_rounds = x;
    }
    if let Some(x) = raw.ceiling {
        o.ceiling = Some(x);
    }
    o.weight_floor = raw.weight_floor;
    if let Some(c) = raw.welfare_scale {
        if !(c.is_finite() && c > 0.0) {
            return Err((
                "engine.welfare_scale",
                format!("{c} is out of range: a positive, finite number (the welfare-seeking variant's scale c of V)"),
            ));
        }
    }
    o.welfare_scale = raw.welfare_scale;
    if let Some(b) = raw.momentum {
        if !(0.0..1.0).contains(&b) {
            return Err((
                "engine.momentum",
                format!("{b} is out of range: in [0, 1) (momentum β on pushes)"),
            ));
        }
    }
    o.momentum = raw.momentum;
    if let Some(p) = &raw.potential {
        o.potential = match p.as_str() {
            "quadratic" => Potential::Quadratic,
            "exponential" => Potential::Exponential,
            other => {
                return Err((
                    "engine.potential",
                    format!("unknown potential '{other}' (known: quadratic, exponential)"),
                ))
            }
        };
    }
    if let Some(r) = &raw.runtime {
        o.runtime = Runtime::from_name(r).ok_or_else(|| {
            let known: Vec<&str> = Runtime::ALL.iter().map(|r| r.name()).collect();
            (
                "engine.runtime",
                format!("unknown runtime '{r}' (known: {})", known.join(", ")),
            )
        })?;
    }
    if let Some(w) = raw.workers {
        if w == 0 || o.runtime != Runtime::Timely {
            return Err((
                "engine.workers",
                format!("workers = {w}: at least 1, and only with runtime = \"timely\""),
            ));
        }
    }
    let backend = match &raw.backend {
        None => Backend::DEFAULT,
        Some(b) => b
            .parse()
            .map_err(|e: brokerflow_solvers::lp::BackendNameError| {
                ("engine.backend", e.to_string())
            })?,
    };
    // The engine's own check, run once on a one-node market so a bad setting is a spec
    // error rather than a failed row in every scenario.
    let probe = brokerflow_graphs::examples::tiny();
    let g = brokerflow_graphs::ExpandedGraph::new(&probe);
    // The probe runs one round, so the settings that concern the run's length are
    // checked here.
    if o.max_rounds == 0 {
        return Err(("engine.rounds", "rounds = 0: at least 1 round".into()));
    }
    if o.window > o.max_rounds {
        return Err((
            "engine.window",
            format!(
                "window = {} is longer than rounds = {}: a run never fills it",
                o.window, o.max_rounds
            ),
        ));
    }
    let mut check = o;
    check.max_rounds = 1;
    check.window = 1;
    if let Err(e) = brokerflow_solvers::engine::run(&probe, &g, &check) {
        return Err(("engine", e.to_string()));
    }
    Ok((o, backend))
}

/// The most files one market glob of a spec may match.
pub const MAX_GLOB_FILES: usize = 10_000;

/// Refuses a market glob whose walk is not bounded by the spec's folder: an absolute
/// glob (`/**/*.json` walks the whole filesystem), `..` after a wildcard (`*/../..`),
/// and `**` in a glob that leaves the spec's folder with `..` (`../**` walks the
/// parent's whole tree). A glob may still reach a fixed folder outside the spec's
/// folder through a literal prefix (`../graphs/markets/mcf/*.txt`): that walk is one
/// folder deep per wildcard component.
fn bounded_glob(dir: &Path, pattern: &str) -> Result<(), String> {
    let fix = "write the glob relative to the spec's folder, or list the files one by one";
    if Path::new(pattern).has_root() || Path::new(pattern).is_absolute() {
        return Err(format!(
            "'{pattern}' is an absolute glob, which can walk the whole filesystem; market globs are relative to the spec's folder ({}): {fix}",
            dir.display()
        ));
    }
    let parts: Vec<&str> = pattern.split(['/', '\\']).collect();
    let wild = |p: &str| p.contains(['*', '?', '[']);
    let first = parts.iter().position(|p| wild(p)).unwrap_or(parts.len());
    if parts[first..].contains(&"..") {
        return Err(format!(
            "'{pattern}' has '..' after a wildcard, which can walk out of any folder: {fix}"
        ));
    }
    if parts[..first].contains(&"..") && parts[first..].iter().any(|p| p.contains("**")) {
        return Err(format!(
            "'{pattern}' leaves the spec's folder ({}) with '..' and then walks every folder below with '**': name the folder the files are in (e.g. ../graphs/markets/mcf/*.txt)",
            dir.display()
        ));
    }
    Ok(())
}

/// Expands market paths and globs (relative to the spec's folder) in order; each
/// pattern must match at least one readable file. Globs are bounded ([`bounded_glob`],
/// at most [`MAX_GLOB_FILES`] files each).
fn find_markets(dir: &Path, patterns: &[String]) -> Result<Vec<MarketFile>, (usize, String)> {
    if patterns.is_empty() {
        return Err((0, "at least one market file or glob is needed".into()));
    }
    let mut out: Vec<MarketFile> = Vec::new();
    for (j, pattern) in patterns.iter().enumerate() {
        let full = dir.join(pattern);
        let full_text = full.to_string_lossy().to_string();
        let mut paths: Vec<PathBuf> = if pattern.contains(['*', '?', '[']) {
            bounded_glob(dir, pattern).map_err(|m| (j, m))?;
            let found: Vec<PathBuf> = glob::glob(&full_text)
                .map_err(|e| (j, format!("'{pattern}' is not a valid glob: {e}")))?
                .filter_map(Result::ok)
                .take(MAX_GLOB_FILES + 1)
                .collect();
            if found.len() > MAX_GLOB_FILES {
                return Err((
                    j,
                    format!("'{pattern}' matches more than {MAX_GLOB_FILES} files: name a narrower folder or pattern"),
                ));
            }
            found
        } else {
            vec![full.clone()]
        };
        paths.sort();
        if paths.is_empty() {
            return Err((
                j,
                format!(
                    "'{pattern}' matches no file (relative to {})",
                    dir.display()
                ),
            ));
        }
        for p in paths {
            let bytes = std::fs::read(&p)
                .map_err(|e| (j, format!("cannot read market file {}: {e}", p.display())))?;
            let label = p
                .strip_prefix(dir)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            if out.iter().any(|f| f.label == label) {
                return Err((j, format!("market file {label} is listed twice")));
            }
            out.push(MarketFile {
                path: p,
                label,
                bytes,
            });
        }
    }
    Ok(out)
}

impl MarketFile {
    /// The market the file holds (an mcf benchmark by its `.txt`/`.mcf` extension,
    /// JSON otherwise), validated.
    pub fn market(&self) -> Result<brokerflow_graphs::ValidMarket, MarketFileError> {
        let origin = self.path.display().to_string();
        let ext = self
            .path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if ext == "txt" || ext == "mcf" {
            Ok(brokerflow_graphs::formats::mcf::parse_mcf_bytes(
                &self.bytes,
                &origin,
            )?)
        } else {
            let text = std::str::from_utf8(&self.bytes).map_err(|_| MarketFileError::NotUtf8 {
                origin: origin.clone(),
            })?;
            Ok(brokerflow_graphs::Market::from_json_str(text, &origin)?)
        }
    }
}

/// Why a given market file holds no valid market.
#[derive(Debug, thiserror::Error)]
pub enum MarketFileError {
    /// An mcf benchmark that does not parse or validate.
    #[error(transparent)]
    Mcf(#[from] brokerflow_graphs::formats::mcf::McfError),
    /// A JSON market that does not parse or validate.
    #[error(transparent)]
    Json(#[from] brokerflow_graphs::MarketError),
    /// Not UTF-8 text.
    #[error("{origin}: not UTF-8 text")]
    NotUtf8 {
        /// The file.
        origin: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Spec, SpecError> {
        Spec::parse(text, Path::new("x/spec.toml"))
    }

    const GOOD: &str = r#"
name = "t"
methods = ["lp/welfare", "fair/demand"]
[[configuration]]
name = "K3"
seeds = 2
[configuration.generator]
users = 3
brokers = 2
providers = 2
"#;

    #[test]
    fn a_good_spec_loads_with_its_defaults() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.configurations[0].scenarios(), 2);
        assert_eq!(s.configurations[0].scenario_label(1), "2");
        assert_eq!(s.engine.window, 50);
        assert_eq!(s.engine.momentum, None);
        assert_eq!(s.backend, Backend::Auto);
        assert!(s.figures && s.trace.is_none());
    }

    fn error_of(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    /// Settings a spec used to accept and then run into nonsense: no users, a
    /// name that writes into the spec's folder or its parent, no rounds, a window
    /// that no run fills.
    #[test]
    fn settings_that_make_no_run_are_refused_up_front() {
        let e = error_of(&GOOD.replace("users = 3", "users = 0"));
        assert!(
            e.starts_with("x/spec.toml: configuration[0].generator.users: must be at least 1"),
            "{e}"
        );
        for name in [".", "..", "a\nb"] {
            let e = error_of(&GOOD.replace("name = \"t\"", &format!("name = {name:?}")));
            assert!(e.starts_with("x/spec.toml: name: must be"), "{name:?}: {e}");
        }
        let engine = |keys: &str| {
            GOOD.replace(
                "[[configuration]]",
                &format!("[engine]\n{keys}\n[[configuration]]"),
            )
        };
        let e = error_of(&engine("rounds = 0"));
        assert!(e.contains("engine.rounds"), "{e}");
        let e = error_of(&engine("rounds = 100\nwindow = 1000000000000"));
        assert!(
            e.contains("engine.window") && e.contains("longer than rounds = 100"),
            "{e}"
        );
        assert!(parse(&engine("rounds = 100\nwindow = 100")).is_ok());
    }

    /// A range is `[min, max]`: a third number was dropped silently (toml reads an
    /// array of two from the first two elements).
    #[test]
    fn a_billion_seeds_are_two_numbers_not_a_list() {
        let s = parse(&GOOD.replace("seeds = 2", "seeds = 1000000000\nfirst_seed = 7")).unwrap();
        let c = &s.configurations[0];
        assert_eq!(c.scenarios(), 1_000_000_000);
        assert_eq!(c.scenario_label(0), "7");
        assert_eq!(c.scenario_label(999_999_999), "1000000006");
        match &c.source {
            Source::Generated { seeds, .. } => {
                assert_eq!(seeds.position(1_000_000_006), Some(999_999_999));
                assert_eq!(seeds.position(6), None);
                assert_eq!(seeds.position(1_000_000_007), None);
                // Held as two numbers, whatever the count.
                assert_eq!(std::mem::size_of_val(seeds), 16);
            }
            Source::Given(_) => panic!("a generated configuration"),
        }
        let e =
            error_of(&GOOD.replace("seeds = 2", "seeds = 2\nfirst_seed = 18446744073709551615"));
        assert!(e.contains("first_seed"), "{e}");
    }

    #[test]
    fn a_range_of_three_numbers_is_refused() {
        let spec = |range: &str| {
            GOOD.replace("providers = 2", &format!("providers = 2\ndemand = {range}"))
        };
        let e = error_of(&spec("[5, 10, 20]"));
        assert!(
            e.starts_with("x/spec.toml:11: configuration[0].generator.demand: a range is [min, max], two numbers; this one has 3"),
            "{e}"
        );
        assert!(error_of(&spec("[5]")).contains("this one has 1"));
        let s = parse(&spec("[5, 10]")).unwrap();
        let Source::Generated { config, .. } = &s.configurations[0].source else {
            panic!("generated")
        };
        assert_eq!((config.demand.min, config.demand.max), (5.0, 10.0));
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let e = error_of(&GOOD.replace("fair/demand", "fair/nothing"));
        assert!(
            e.starts_with("x/spec.toml: methods: unknown method 'fair/nothing'"),
            "{e}"
        );
        let e = error_of(&GOOD.replace("seeds = 2", "seeds = 0"));
        assert_eq!(e, "x/spec.toml: configuration[0].seeds: must be at least 1");
        let e = error_of(&GOOD.replace("seeds = 2\n", ""));
        assert!(e.contains("configuration[0].seeds: missing"), "{e}");
        let e = error_of(&GOOD.replace("name = \"t\"\n", ""));
        assert!(
            e.starts_with("x/spec.toml") && e.contains("missing field `name`"),
            "{e}"
        );
        let e = error_of(&GOOD.replace("users = 3", "userz = 3"));
        assert!(
            e.starts_with("x/spec.toml:")
                && e.contains("configuration[0].generator")
                && e.contains("userz"),
            "{e}"
        );
        let e = error_of(&GOOD.replace("brokers = 2", "brokers = 0"));
        assert!(e.contains("configuration[0].generator.brokers"), "{e}");
        let e = error_of(&GOOD.replace("seeds = 2", "markets = [\"nowhere/*.json\"]\nseedz = 1"));
        assert!(e.contains("seedz"), "{e}");
        let e = error_of(&format!("{GOOD}[engine]\nepsilon = -1\n"));
        assert!(e.starts_with("x/spec.toml: engine: epsilon"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn momentum_is_read_and_must_be_in_zero_to_one() {
        let s = parse(&format!("{GOOD}[engine]\nmomentum = 0.5\n")).unwrap();
        assert_eq!(s.engine.momentum, Some(0.5));
        for bad in ["1.0", "-0.1", "2"] {
            let e = error_of(&format!("{GOOD}[engine]\nmomentum = {bad}\n"));
            assert!(e.starts_with("x/spec.toml: engine.momentum: "), "{e}");
        }
    }

    #[test]
    fn welfare_scale_is_read_and_must_be_positive_and_finite() {
        assert_eq!(parse(GOOD).unwrap().engine.welfare_scale, None);
        let s = parse(&format!("{GOOD}[engine]\nwelfare_scale = 7.5\n")).unwrap();
        assert_eq!(s.engine.welfare_scale, Some(7.5));
        let s = parse(&format!("{GOOD}[engine]\nwelfare_scale = 40\n")).unwrap();
        assert_eq!(s.engine.welfare_scale, Some(40.0));
        for bad in ["0", "-3", "nan", "inf", "-inf"] {
            let e = error_of(&format!("{GOOD}[engine]\nwelfare_scale = {bad}\n"));
            assert!(
                e.starts_with("x/spec.toml: engine.welfare_scale: ")
                    && e.contains("positive, finite"),
                "{bad}: {e}"
            );
        }
        let e = error_of(&format!("{GOOD}[engine]\nwelfare_scale = \"big\"\n"));
        assert!(e.contains("engine.welfare_scale"), "{e}");
    }

    #[test]
    fn runtime_is_read_and_must_be_known() {
        assert_eq!(parse(GOOD).unwrap().engine.runtime, Runtime::Flat);
        let s = parse(&format!("{GOOD}[engine]\nruntime = \"nodes\"\n")).unwrap();
        assert_eq!(s.engine.runtime, Runtime::Nodes);
        let s = parse(&format!(
            "{GOOD}[engine]\nruntime = \"timely\"\nworkers = 2\n"
        ))
        .unwrap();
        assert_eq!((s.engine.runtime, s.workers), (Runtime::Timely, 2));
        let e = error_of(&format!("{GOOD}[engine]\nruntime = \"warp\"\n"));
        assert!(
            e.starts_with("x/spec.toml: engine.runtime: unknown runtime 'warp'")
                && e.contains("flat, nodes, timely"),
            "{e}"
        );
        let e = error_of(&format!("{GOOD}[engine]\nworkers = 2\n"));
        assert!(e.contains("engine.workers"), "{e}");
    }

    fn markets_error(pattern: &str) -> String {
        let text = GOOD.replace(
            "seeds = 2\n[configuration.generator]\nusers = 3\nbrokers = 2\nproviders = 2\n",
            &format!("markets = [{pattern:?}]\n"),
        );
        error_of(&text)
    }

    /// Globs that would walk the filesystem are refused before any walk, naming the
    /// place and what to write instead (the patterns name folders that do not exist,
    /// so a walk would end in "matches no file").
    #[test]
    fn globs_that_walk_out_of_the_spec_folder_are_refused() {
        let e = markets_error("/no-such-folder-4711/**/*.json");
        assert!(
            e.starts_with("x/spec.toml: configuration[0].markets[0]: '/no-such-folder-4711/**/*.json' is an absolute glob")
                && e.contains("relative to the spec's folder (x)")
                && e.contains("list the files one by one"),
            "{e}"
        );
        let e = markets_error("no-such-folder-4711/*/../../../*.json");
        assert!(e.contains("'..' after a wildcard"), "{e}");
        let e = markets_error("../no-such-folder-4711/**/*.json");
        assert!(
            e.contains("with '..' and then walks every folder below with '**'"),
            "{e}"
        );
        // A literal way out, then one folder deep: walked (and here empty).
        let e = markets_error("../no-such-folder-4711/*.json");
        assert!(e.contains("matches no file"), "{e}");
        let e = markets_error("no-such-folder-4711/**/*.json");
        assert!(e.contains("matches no file"), "{e}");
    }

    #[test]
    fn an_unreadable_market_file_is_named() {
        let text = GOOD.replace(
            "seeds = 2\n[configuration.generator]\nusers = 3\nbrokers = 2\nproviders = 2\n",
            "markets = [\"missing.json\"]\n",
        );
        let e = error_of(&text);
        assert!(
            e.starts_with(
                "x/spec.toml: configuration[0].markets[0]: cannot read market file x/missing.json"
            ),
            "{e}"
        );
    }
}
