//! Random markets as in seed 003 §6 and DESIGN §7 (to be written).
