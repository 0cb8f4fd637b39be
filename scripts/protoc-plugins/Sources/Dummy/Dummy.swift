// A package needs one target of its own; this one only lets SwiftPM build the plugins.
