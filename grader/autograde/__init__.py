"""`kit grade`: the sandboxed grader, the whole trusted/untrusted boundary in one place.

- `submissions`: reads what students handed in (folders, notebooks, LMS zips) into modules;
  `parse` parses them (nbformat, `ast`) in a bounded process of its own;
- `sandbox` (trusted side) starts and confines a `worker` (untrusted side), which runs a
  student's code and only probes; results cross back as `wire` frames (safetensors + JSON);
- `grade` verifies the results against the references and writes `gradebook`, CSV, feedback;
- `demo` builds a sample class; `hostile/` holds attacks the grader must survive.
"""
