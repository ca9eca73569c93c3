//! The classic multicommodity-flow benchmark format `p mcf n m k` (to be written).
