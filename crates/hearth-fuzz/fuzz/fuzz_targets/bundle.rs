//! Fuzz target: `hearth_fuzz::bundle`.
#![no_main]

libfuzzer_sys::fuzz_target!(
    // libfuzzer-sys aborts on any panic through its hook, even one that Hearth catches on
    // purpose (`hearth_archive::untrusted`); with the default hook back, only a panic that
    // escapes the target aborts.
    init: {
        let _ = std::panic::take_hook();
    },
    |data: &[u8]| hearth_fuzz::bundle(data)
);
