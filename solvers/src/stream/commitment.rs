//! Hash commitments to the hidden test outputs ([Stream-Market] §3.4.6, Eq. 7), with
//! SHA-256 as the hash.
//!
//! α(K) = {H(k) : k ∈ K} tells the supplier which of its outputs are tested without
//! revealing them; γ(K) = H(K) is what the supplier posts for its tested outputs O_v;
//! Γ(K) = H(H(K)) is the customer's commitment at signing, so the verifier hashes one
//! value: Γ(O_c) = H(γ(O_v)). A set K is hashed as its outputs in α's order, each
//! prefixed by its length (8 bytes, little-endian), so no two lists hash alike by
//! concatenation.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Digest32 = [u8; 32];

/// H(k): SHA-256 of one output.
pub fn hash_output(output: &[u8]) -> Digest32 {
    Sha256::digest(output).into()
}

/// α(K) = {H(k) : k ∈ K}, in K's order ([Stream-Market] Eq. 7).
pub fn alpha(outputs: &[Vec<u8>]) -> Vec<Digest32> {
    outputs.iter().map(|o| hash_output(o)).collect()
}

/// γ(K) = H(K) ([Stream-Market] Eq. 7): SHA-256 of the length-prefixed outputs.
pub fn gamma(outputs: &[Vec<u8>]) -> Digest32 {
    let mut h = Sha256::new();
    for o in outputs {
        h.update((o.len() as u64).to_le_bytes());
        h.update(o);
    }
    h.finalize().into()
}

/// Γ(K) = H(H(K)) ([Stream-Market] Eq. 7): the customer's commitment to the hidden
/// test outputs, made at signing.
///
/// # Arguments
/// * `outputs`: K, the expected outputs of the hidden test inputs, in α's order.
///
/// # Returns
/// Γ(K).
///
/// # Complexity
/// O(Σ |k|) (two SHA-256 passes).
///
/// # Example
/// ```
/// use brokerflow_solvers::stream::commitment::{commitment, gamma, verifies};
///
/// // The verifier accepts a supplier that posts γ of the very outputs committed to.
/// let k = vec![b"out-1".to_vec(), b"out-2".to_vec()];
/// assert!(verifies(&commitment(&k), &gamma(&k)));
/// assert!(!verifies(&commitment(&k), &gamma(&k[..1])));
/// ```
///
/// Paper: [Stream-Market] §3.4.6, Eq. 7.
pub fn commitment(outputs: &[Vec<u8>]) -> Digest32 {
    Sha256::digest(gamma(outputs)).into()
}

/// The verifier's check: Γ(O_c) = H(γ(O_v)).
pub fn verifies(committed: &Digest32, posted: &Digest32) -> bool {
    let h: Digest32 = Sha256::digest(posted).into();
    h == *committed
}

/// O_v: the supplier's outputs whose hash is in α(O_c), in α's order
/// ([Stream-Market] §3.4.6). A tested input the supplier did not process correctly
/// has no matching output and is missing from O_v, so γ(O_v) fails the check.
///
/// # Arguments
/// * `alpha_c`: α(O_c), revealed by the customer.
/// * `outputs`: every output the supplier produced.
///
/// # Returns
/// O_v.
///
/// # Complexity
/// O(|α|·|outputs| + Σ |o|): one hash per output, then a linear search per entry of α.
///
/// # Example
/// ```
/// use brokerflow_solvers::stream::commitment::{alpha, commitment, gamma, tested_outputs, verifies};
///
/// let tests = vec![b"t1".to_vec(), b"t2".to_vec()];
/// let honest = vec![b"x".to_vec(), b"t2".to_vec(), b"t1".to_vec()];
/// let o_v = tested_outputs(&alpha(&tests), &honest);
/// assert_eq!(o_v, tests); // in α's order, whatever order they were produced in
/// assert!(verifies(&commitment(&tests), &gamma(&o_v)));
/// // A supplier that skipped t1 fails.
/// let lazy = tested_outputs(&alpha(&tests), &honest[..2]);
/// assert!(!verifies(&commitment(&tests), &gamma(&lazy)));
/// ```
///
/// Paper: [Stream-Market] §3.4.6.
pub fn tested_outputs(alpha_c: &[Digest32], outputs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let hashed: Vec<(Digest32, &Vec<u8>)> = outputs.iter().map(|o| (hash_output(o), o)).collect();
    alpha_c
        .iter()
        .filter_map(|a| {
            hashed
                .iter()
                .find(|(h, _)| h == a)
                .map(|(_, o)| (*o).clone())
        })
        .collect()
}
