"""A fuzzer for srcad: random programs of what people write, checked against
oracles that do not use srcad. grammar.py makes programs, catalog.py the calls
drawn from the rule table, inputs.py their arguments, twins.py the programs the
oracles run, check.py the checks of one program, runner.py the long runs."""
