//! The strategy experiment of [Stream-Market] §5.2 from its spec file: the spec read,
//! the simulation run, and every output made — the CSVs and summary of
//! [`brokerflow_solvers::stream::report`] and, with the `figures` feature, the SVG
//! figures (Fig. 5 and Fig. 6 in shape), each carrying the run's provenance.

use std::path::Path;

use brokerflow_solvers::stream::report::SimulationReport;
use brokerflow_solvers::stream::simulate::{simulate, SimulationResult, SimulationSpec};
use brokerflow_solvers::stream::StreamError;

/// Why the strategy experiment did not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamRunError {
    /// The spec is not TOML of the spec's shape.
    #[error("{origin}: {}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Spec {
        /// The spec file's name.
        origin: String,
        /// The line of the offending value, where the parser says.
        line: Option<usize>,
        /// The parser's description.
        message: String,
    },
    /// The spec breaks a rule, or the simulation failed.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// A figure could not be drawn.
    #[error("drawing {name}: {message}")]
    Figure {
        /// The figure (`the sweep` for the sweep's).
        name: String,
        /// The drawing library's description.
        message: String,
    },
}

/// Reads the spec of a [Stream-Market] §5.2 strategy experiment (TOML) named `origin`.
///
/// # Arguments
/// * `text`: the TOML.
/// * `origin`: its name, quoted in errors.
///
/// # Returns
/// The [`SimulationSpec`] (checked further when it runs).
///
/// # Errors
/// [`StreamRunError::Spec`] with the line of the first problem.
///
/// # Complexity
/// O(size of the text).
///
/// # Example
/// ```
/// let err = brokerflow_experiments::stream::read_spec("name = 3\n", "s.toml").unwrap_err();
/// assert!(err.to_string().starts_with("s.toml: line 1: "), "{err}");
/// ```
///
/// Paper: [Stream-Market] §5.2.
pub fn read_spec(text: &str, origin: &str) -> Result<SimulationSpec, StreamRunError> {
    toml::from_str(text).map_err(|e| StreamRunError::Spec {
        origin: origin.to_string(),
        line: e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
        message: e.message().trim().to_string(),
    })
}

/// A finished strategy experiment: its spec, result and every output file.
#[derive(Debug, Clone)]
pub struct StreamRun {
    /// The spec.
    pub spec: SimulationSpec,
    /// The simulation's result.
    pub result: SimulationResult,
    /// Every output, named, in writing order: the CSVs, `summary.json`, then the
    /// figures (with the `figures` feature).
    pub files: Vec<(&'static str, String)>,
}

impl StreamRun {
    /// The line to print once the files are in `dir`: contracts, mediations, the
    /// ledger's total and where the outputs are.
    pub fn summary_line(&self, dir: &Path) -> String {
        format!(
            "{}: {} contracts, {} mediations, ledger total {} units; outputs in {}",
            self.spec.name,
            self.result.contracts,
            self.result.mediations,
            self.result.ledger_total,
            dir.display()
        )
    }
}

/// Runs the strategy experiment of the spec `text` read from `spec_path`: reads it,
/// simulates it (the same spec and seed give the same bytes) and renders every output.
///
/// # Arguments
/// * `text`: the spec's TOML.
/// * `spec_path`: where it was read from (named in errors and in the outputs'
///   provenance).
///
/// # Returns
/// The run and its outputs.
///
/// # Errors
/// [`StreamRunError`]: a spec that does not parse or breaks a rule, or a figure that
/// cannot be drawn.
///
/// # Complexity
/// That of [`brokerflow_solvers::stream::simulate::simulate`], plus rendering, linear
/// in the participants and rounds.
///
/// # Example
/// See `experiments/stream/table6.toml`, the paper's Table 6 values, run by
/// `brokerflow stream simulate`.
///
/// Paper: [Stream-Market] §5.2.
pub fn run_spec(text: &str, spec_path: &Path) -> Result<StreamRun, StreamRunError> {
    let origin = spec_path.display().to_string();
    let spec = read_spec(text, &origin)?;
    let result = simulate(&spec, &origin)?;
    let report = SimulationReport::new(&spec, &result, spec_path, text);
    #[allow(unused_mut)] // Without figures nothing is added.
    let mut files = report.files();
    #[cfg(feature = "figures")]
    files.extend(figures::all(&report)?);
    Ok(StreamRun {
        spec,
        result,
        files,
    })
}

/// The strategy experiment's SVG figures, in [`crate::report::PALETTE`]'s colours.
#[cfg(feature = "figures")]
pub mod figures {
    use brokerflow_solvers::stream::report::{group_members, mean, SimulationReport};
    use brokerflow_solvers::stream::simulate::{SimulationResult, SimulationSpec, SweepPoint};
    use plotters::prelude::*;

    use super::StreamRunError;
    use crate::figures::{with_provenance, Entry, Header, Mark};

    const FONT: &str = "sans-serif";
    type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

    /// The palette's colours in the order the stream figures use them (vermillion,
    /// orange, reddish purple, sky blue, blue, bluish green).
    const ORDER: [usize; 6] = [1, 4, 3, 5, 0, 2];

    fn colour(i: usize) -> RGBColor {
        let (r, g, b) = crate::report::PALETTE[ORDER[i % ORDER.len()]];
        RGBColor(r, g, b)
    }

    /// Every figure of a run, named, each with the run's provenance in a comment:
    /// `supplier_utility.svg`, `customer_utility.svg` and, with a sweep,
    /// `customer_vs_supplier_probability.svg`.
    pub fn all(report: &SimulationReport) -> Result<Vec<(&'static str, String)>, StreamRunError> {
        let mut files = Vec::new();
        for (name, role, title) in [
            (
                "supplier_utility.svg",
                "supplier",
                "Cumulative supplier utility vs allocations completed, per group P(s) (group mean)",
            ),
            (
                "customer_utility.svg",
                "customer",
                "Cumulative customer utility vs allocations completed, per group P(c) (group mean)",
            ),
        ] {
            let svg = cumulative_figure(report.spec, report.result, role, title).map_err(|e| {
                StreamRunError::Figure {
                    name: name.to_string(),
                    message: e.to_string(),
                }
            })?;
            files.push((name, with_provenance(svg, &report.provenance)));
        }
        if !report.result.sweep.is_empty() {
            let svg = sweep_figure(report.result).map_err(|e| StreamRunError::Figure {
                name: "the sweep".to_string(),
                message: e.to_string(),
            })?;
            files.push((
                "customer_vs_supplier_probability.svg",
                with_provenance(svg, &report.provenance),
            ));
        }
        Ok(files)
    }

    /// [Stream-Market] Fig. 5 in shape: each group's mean cumulative utility of
    /// `role` against the allocations completed, up to the count every member of the
    /// group reached.
    pub fn cumulative_figure(
        spec: &SimulationSpec,
        r: &SimulationResult,
        role: &str,
        title: &str,
    ) -> DrawResult<String> {
        let groups = group_members(spec, r, role);
        let series: Vec<(f64, Vec<(f64, f64)>)> = groups
            .iter()
            .map(|(g, idx)| {
                // Up to the contract count every member of the group reached.
                let len = idx
                    .iter()
                    .map(|&i| r.by_contract[i].len())
                    .min()
                    .unwrap_or(0);
                let pts = (0..len)
                    .map(|t| {
                        (
                            (t + 1) as f64,
                            mean(idx.iter().map(|&i| r.by_contract[i][t])),
                        )
                    })
                    .collect();
                (*g, pts)
            })
            .collect();
        let xmax = series
            .iter()
            .map(|(_, p)| p.len())
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for (_, pts) in &series {
            for &(_, y) in pts {
                if y.is_finite() {
                    lo = lo.min(y);
                    hi = hi.max(y);
                }
            }
        }
        let pad = (hi - lo).max(1e-9) * 0.05;
        let symbol = if role == "supplier" { "P(s)" } else { "P(c)" };
        let entries = series
            .iter()
            .enumerate()
            .map(|(i, (g, _))| {
                Entry::new(
                    Mark::Line,
                    colour(i),
                    format!("{symbol} = {:.0} %", g * 100.0),
                )
            })
            .collect();
        let mut svg = String::new();
        {
            let (root, body) = with_header(&mut svg, title, entries)?;
            let mut chart = ChartBuilder::on(&body)
                .margin(12)
                // Room for the last x tick's label, centred on the plot's edge.
                .margin_right(36)
                .x_label_area_size(40)
                .y_label_area_size(80)
                .build_cartesian_2d(0f64..xmax, (lo - pad)..(hi + pad))?;
            chart
                .configure_mesh()
                .x_desc("allocations completed by the participant")
                .y_desc("cumulative utility (money)")
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            for (i, (_, pts)) in series.iter().enumerate() {
                chart.draw_series(LineSeries::new(pts.clone(), colour(i).stroke_width(2)))?;
            }
            root.present()?;
        }
        Ok(svg)
    }

    /// The width of the stream figures, and the height of their plot.
    const SIZE: (u32, u32) = (900, 500);

    /// A figure of [`SIZE`] in `svg` with `title` and the legend `entries` above its
    /// plot, laid out to fit (so the legend never hides a curve): the root, to present
    /// when done, and the area below the header, to plot on.
    fn with_header<'a>(
        svg: &'a mut String,
        title: &str,
        entries: Vec<Entry>,
    ) -> DrawResult<(
        DrawingArea<SVGBackend<'a>, plotters::coord::Shift>,
        DrawingArea<SVGBackend<'a>, plotters::coord::Shift>,
    )> {
        let header = Header::new(title, entries, SIZE.0);
        let root =
            SVGBackend::with_string(svg, (SIZE.0, SIZE.1 + header.height())).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, body) = root.split_vertically(header.height());
        header.draw(&top)?;
        Ok((root, body))
    }

    /// [Stream-Market] Fig. 6 in shape: verifying (P(c) = 100 %) and non-verifying
    /// (0 %) customers' mean utility per allocation against every supplier's P(s).
    pub fn sweep_figure(r: &SimulationResult) -> DrawResult<String> {
        let pts = |f: fn(&SweepPoint) -> f64| -> Vec<(f64, f64)> {
            r.sweep
                .iter()
                .map(|p| (p.supplier_probability * 100.0, f(p)))
                .filter(|(_, y)| y.is_finite())
                .collect()
        };
        let verifying = pts(|p| p.verifying);
        let not_verifying = pts(|p| p.not_verifying);
        let all: Vec<f64> = verifying
            .iter()
            .chain(&not_verifying)
            .map(|p| p.1)
            .collect();
        // The scale of the curves, not down to 0: their difference is what the figure
        // shows, and a few cents of it vanish on a scale of dollars.
        let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 0.0) };
        let pad = (hi - lo).max(lo.abs().max(hi.abs()) * 0.01).max(1e-9) * 0.08;
        let x0 = r
            .sweep
            .iter()
            .map(|p| p.supplier_probability * 100.0)
            .fold(f64::INFINITY, f64::min);
        let x1 = r
            .sweep
            .iter()
            .map(|p| p.supplier_probability * 100.0)
            .fold(f64::NEG_INFINITY, f64::max);
        let (x0, x1) = if x1 > x0 {
            (x0, x1)
        } else {
            (x0 - 1.0, x1 + 1.0)
        };
        let (verifying_colour, other_colour) = (colour(5), colour(0));
        let mut svg = String::new();
        {
            let (root, body) = with_header(
                &mut svg,
                "Customer utility per allocation vs every supplier's P(s): verifying (P(c) = 100 %) vs not (0 %)",
                vec![
                    Entry::new(Mark::Line, verifying_colour, "verifying"),
                    Entry::new(Mark::Line, other_colour, "not verifying"),
                ],
            )?;
            let mut chart = ChartBuilder::on(&body)
                .margin(12)
                // Room for the last x tick's label, centred on the plot's edge.
                .margin_right(36)
                .x_label_area_size(40)
                .y_label_area_size(80)
                .build_cartesian_2d(x0..x1, (lo - pad)..(hi + pad))?;
            chart
                .configure_mesh()
                .x_desc("P(s) of every supplier (%)")
                .y_desc("mean customer utility per allocation (money)")
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            for (col, data) in [(verifying_colour, verifying), (other_colour, not_verifying)] {
                chart.draw_series(LineSeries::new(data.clone(), col.stroke_width(2)))?;
                chart.draw_series(data.iter().map(|&p| Circle::new(p, 4, col.filled())))?;
            }
            root.present()?;
        }
        Ok(svg)
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::figures::tests::{
            assert_legend_clear, assert_texts_inside, has_text, hex, legend_bottom, plotted, texts,
        };
        use std::path::Path;

        /// The stream figures' six colours, as drawn before they came from the shared
        /// palette.
        #[test]
        fn colours_are_the_stream_figures_own() {
            let want = [
                (213, 94, 0),
                (230, 159, 0),
                (204, 121, 167),
                (86, 180, 233),
                (0, 114, 178),
                (0, 158, 115),
            ];
            for (i, (r, g, b)) in want.into_iter().enumerate() {
                assert_eq!(colour(i), RGBColor(r, g, b));
                assert_eq!(colour(i + 6), RGBColor(r, g, b));
            }
        }

        #[test]
        fn provenance_goes_after_the_xml_declaration() {
            let svg = with_provenance("<?xml v?><svg/>".into(), "# a -- b\n");
            assert_eq!(svg, "<?xml v?>\n<!--\na - - b\n-->\n<svg/>");
            assert_eq!(
                with_provenance("<svg/>".into(), "# x\n"),
                "<!--\nx\n-->\n<svg/>"
            );
        }

        #[test]
        fn the_stream_sweep_has_its_legend_above_the_plot_and_a_dot_per_point() {
            use brokerflow_solvers::stream::simulate::{SimulationResult, SweepPoint};
            let sweep: Vec<SweepPoint> = (0..5)
                .map(|i| SweepPoint {
                    supplier_probability: 0.6 + 0.1 * f64::from(i),
                    verifying: -4.0 + 0.01 * f64::from(i),
                    not_verifying: -4.02 + 0.01 * f64::from(i),
                })
                .collect();
            let r = SimulationResult {
                participants: Vec::new(),
                cumulative: Vec::new(),
                by_contract: Vec::new(),
                contracts: 0,
                mediations: 0,
                void: Vec::new(),
                ledger_total: 0,
                sweep,
            };
            let svg = sweep_figure(&r).unwrap();
            assert_texts_inside("sweep", &svg);
            let is_label = |t: &str| t == "verifying" || t == "not verifying";
            assert_legend_clear("sweep", &svg, is_label, 0);
            // No title line ends in a number cut from its unit.
            assert!(!texts(&svg).iter().any(|t| t.text.starts_with('%')));
            // The scale is the curves' (−4.02 to −3.96), not stretched to 0.
            let ticks: Vec<f64> = texts(&svg)
                .iter()
                .filter(|t| t.anchor == "end")
                .filter_map(|t| t.text.parse().ok())
                .collect();
            assert!(
                ticks.iter().all(|&t| (-4.03..=-3.95).contains(&t)),
                "{ticks:?}"
            );
            // The verifying series (−4, −3.99, …, −3.96): five dots each, read back.
            let (values, pixel) = plotted(&svg, legend_bottom(&svg, is_label));
            assert_eq!(values.len(), 10, "{values:?}");
            let mut verifying: Vec<f64> = values
                .iter()
                .filter(|(f, _)| *f == hex(RGBColor(0, 158, 115)))
                .map(|&(_, v)| v)
                .collect();
            verifying.sort_by(f64::total_cmp);
            for (i, v) in verifying.iter().enumerate() {
                assert!(
                    (v - (-4.0 + 0.01 * i as f64)).abs() <= 1.5 * pixel,
                    "{verifying:?}"
                );
            }
        }

        #[test]
        fn the_stream_cumulative_figures_name_every_group_above_the_plot() {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stream/no_gas.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            let mut spec = crate::stream::read_spec(&text, "no_gas.toml").unwrap();
            // A short run: the figure's layout does not depend on its length.
            (
                spec.rounds,
                spec.suppliers_per_group,
                spec.customers_per_group,
            ) = (6, 1, 1);
            spec.sweep.clear();
            let result = brokerflow_solvers::stream::simulate::simulate(&spec, "no_gas").unwrap();
            for (role, symbol) in [("supplier", "P(s)"), ("customer", "P(c)")] {
                let svg = cumulative_figure(&spec, &result, role, "A title").unwrap();
                let labels: Vec<String> = spec
                    .groups
                    .iter()
                    .map(|g| format!("{symbol} = {:.0} %", g * 100.0))
                    .collect();
                for l in &labels {
                    assert!(has_text(&svg, l), "{role}: {l}");
                }
                assert_texts_inside(role, &svg);
                assert_legend_clear(role, &svg, |t| labels.iter().any(|l| l == t), 0);
            }
        }
    }
}
