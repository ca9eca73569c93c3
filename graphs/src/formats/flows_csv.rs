//! The flows CSV `commodity,from,to,flow` (to be written).
