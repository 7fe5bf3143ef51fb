# wooerp — the two commands are `make run` and `make test`; the rest are operator shortcuts.
PYTHON ?= python3
# three test processes: most end-to-end tests wait on real processes, so three run well on two cores; an
# idle one takes over tests another has not started (worksteal), the longest ones are collected first
PYTEST_WORKERS ?= 3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

# Operator input (often pasted from shop data: a SKU such as `x;touch pwned`) reaches the shell only as
# one single-quoted word: $(call arg,NAME) is the variable's raw text ($(value): make expands nothing in
# it, not even $(shell …)) with each ' written as '\''. The variables are not exported either, since make
# would expand them on the way into the environment.
OPERATOR_VARS := ID TASK SINCE REASON SKU CSV STATE ORDERS ERP ALL BENCH_SIZES BENCH_VARIANTS
unexport $(OPERATOR_VARS)
arg = '$(subst ','\'',$(value $1))'
given = $(strip $(value $1))

.PHONY: run test chaos bench bench-catalog status install migrate dead-letters dead-letter replay-dead-letters \
        discard-dead-letter orders retry-order retry-product accept-credit-note reconcile conformance clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -e '.[test,tryton]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: $(STAMP)  ## start the whole fleet in the foreground; make run ERP=tryton for a local Tryton instead of the ERP sandbox
	@ERP_KIND=$(if $(call given,ERP),$(call arg,ERP),"$${ERP_KIND:-rest}") $(BIN)/wooerp run

# Bytecode (pytest's rewritten test modules included) is kept under .venv/pycache, never in the checkout, even
# when PYTHONDONTWRITEBYTECODE is set: every test process and every sandbox, shim and worker a test starts
# would otherwise compile the same sources again.
test: $(STAMP)  ## run every test (own Redis and SQLite unless REDIS_URL / DATABASE_URL are set)
	env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX="$(CURDIR)/$(VENV)/pycache" \
		$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal --durations=25 $(PYTEST_ARGS)

chaos: $(STAMP)  ## the full chaos run: make chaos [ORDERS=10000]
	$(BIN)/python -m bench.chaos --orders $(if $(call given,ORDERS),$(call arg,ORDERS),2000)

bench: $(STAMP)  ## benchmarks, written to bench/RESULTS.md (BENCH_QUICK=1 reduced sizes; BENCH_SIZES=2000,10000 catalog sizes)
	$(if $(call given,BENCH_SIZES),BENCH_SIZES=$(call arg,BENCH_SIZES)) $(BIN)/python -m bench.report

bench-catalog: $(STAMP)  ## only the catalog at full size (~40 min): make bench-catalog [BENCH_SIZES=10000,100000] [BENCH_VARIANTS=1000]
	$(if $(call given,BENCH_SIZES),BENCH_SIZES=$(call arg,BENCH_SIZES)) \
		$(if $(call given,BENCH_VARIANTS),BENCH_VARIANTS=$(call arg,BENCH_VARIANTS)) $(BIN)/python -m bench.report catalog

migrate: $(STAMP)
	$(BIN)/wooerp migrate

dead-letters: $(STAMP)  ## open dead letters, then quarantined orders/products; ALL=1 adds closed letters and their audit
	@$(BIN)/wooerp dead-letters list $(if $(call given,ALL),--all)

dead-letter: $(STAMP)  ## everything about one: make dead-letter ID=7
	@$(BIN)/wooerp dead-letters show $(call arg,ID)

replay-dead-letters: $(STAMP)  ## make replay-dead-letters [ID=7] [TASK=import_order] [SINCE=2h] [REASON="…"]
	@$(BIN)/wooerp dead-letters replay $(if $(call given,ID),--id $(call arg,ID)) $(if $(call given,TASK),--task $(call arg,TASK)) \
		$(if $(call given,SINCE),--since $(call arg,SINCE)) $(if $(call given,REASON),--reason $(call arg,REASON))

discard-dead-letter: $(STAMP)  ## make discard-dead-letter ID=7 REASON="order deleted in shop"
	@$(BIN)/wooerp dead-letters discard --id $(call arg,ID) --reason $(call arg,REASON)

status: $(STAMP)  ## the fleet at a glance
	@$(BIN)/wooerp status

orders: $(STAMP)  ## orders and their sync state: make orders [STATE=quarantined]
	@$(BIN)/wooerp orders list $(if $(call given,STATE),--state $(call arg,STATE))

retry-order: $(STAMP)  ## re-run a quarantined order: make retry-order ID=1234
	@$(BIN)/wooerp orders retry $(call arg,ID)

retry-product: $(STAMP)  ## re-run a quarantined product after its ERP data was fixed: make retry-product SKU=ABC-1
	@$(BIN)/wooerp products retry $(call arg,SKU)

accept-credit-note: $(STAMP)  ## accept the credit notes of deleted shop refunds, once settled in the ERP: make accept-credit-note ID=1234 REASON='…'
	@$(BIN)/wooerp orders accept-credit-note $(call arg,ID) --reason $(call arg,REASON)

reconcile: $(STAMP)  ## compare ERP and shop, print a summary, write var/reconcile/*.csv (exit 1 on discrepancies)
	@$(BIN)/wooerp reconcile $(if $(call given,CSV),--csv $(call arg,CSV))

clean:
	rm -rf var/ .pytest_cache
