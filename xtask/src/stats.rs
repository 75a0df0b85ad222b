//! Summary statistics: medians, spreads and per-round ratios (`value(a, r) / value(ref, r)`,
//! inverted when lower is better, so above 1 means "better than the reference"): on a noisy
//! machine allocators are compared round by round.

/// Median (mean of the two middle values for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (!v.is_empty()).then(|| (v[(v.len() - 1) / 2] + v[v.len() / 2]) / 2.0)
}

/// Sample standard deviation (n − 1) over the mean; 0 for one value, `None` for none or mean 0.
pub fn cv(values: &[f64]) -> Option<f64> {
    let n = values.len() as f64;
    let m = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0).max(1.0);
    (n > 0.0 && m != 0.0).then(|| var.sqrt() / m.abs())
}

/// Median, min, max and CV of a set of values (as in results files).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub cv: f64,
    /// How many values it summarises.
    #[serde(rename = "rounds")]
    pub n: usize,
}

impl Summary {
    pub fn of(values: &[f64]) -> Option<Summary> {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        Some(Summary {
            median: median(&v)?,
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            cv: cv(&v).unwrap_or(0.0),
            n: v.len(),
        })
    }
}

/// The [`Summary`] of the per-round ratios of `v` to the reference `r` (index = round), `r / v`
/// unless `higher`; rounds where either value is missing or not positive are skipped.
pub fn ratio_summary(v: &[Option<f64>], r: &[Option<f64>], higher: bool) -> Option<Summary> {
    let ok = |x: &Option<f64>| x.filter(|x| *x > 0.0 && x.is_finite());
    let ratio = |(v, r)| {
        let (v, r) = (ok(v)?, ok(r)?);
        Some(if higher { v / r } else { r / v })
    };
    Summary::of(&v.iter().zip(r).filter_map(ratio).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[1.0, f64::NAN, 3.0]), Some(2.0));
    }

    #[test]
    fn cv_is_sample_stddev_over_mean() {
        assert_eq!(cv(&[]), None);
        assert_eq!(cv(&[5.0]), Some(0.0));
        assert_eq!(cv(&[2.0, 2.0, 2.0]), Some(0.0));
        // mean 2, sample variance ((1)^2 + 0 + (1)^2) / 2 = 1 → sd 1 → cv 0.5
        assert!(close(cv(&[1.0, 2.0, 3.0]).unwrap(), 0.5));
        assert_eq!(cv(&[0.0, 0.0]), None);
    }

    #[test]
    fn per_round_ratios_follow_rounds_not_sorted_values() {
        // The reference is 3x slower in round 1 (a "bad round"): per-round ratios stay flat
        // where a ratio of medians would not.
        let a = [Some(100.0), Some(30.0), Some(110.0)];
        let r = [Some(50.0), Some(15.0), Some(50.0)];
        let s = ratio_summary(&a, &r, true).unwrap();
        assert!(close(s.median, 2.0));
        assert!(close(s.min, 2.0));
        assert!(close(s.max, 2.2));
        assert_eq!(s.n, 3);
        let m = 2.0 + 0.2 / 3.0;
        let sd = ((2.0 * (2.0 - m) * (2.0 - m) + (2.2 - m) * (2.2 - m)) / 2.0f64).sqrt();
        assert!(close(s.cv, sd / m));
    }

    #[test]
    fn missing_rounds_and_lower_is_better() {
        let a = [Some(10.0), None, Some(20.0), Some(0.0)];
        let r = [Some(20.0), Some(5.0), None, Some(1.0)];
        let one = |s: Option<Summary>| s.map(|s| (s.median, s.min, s.max, s.n));
        assert_eq!(one(ratio_summary(&a, &r, true)), Some((0.5, 0.5, 0.5, 1)));
        assert_eq!(one(ratio_summary(&a, &r, false)), Some((2.0, 2.0, 2.0, 1)));
        assert_eq!(ratio_summary(&[None], &[Some(1.0)], true), None);
    }
}
