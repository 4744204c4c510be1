# Parley: `make run` to chat locally, `make test` to run every test, `make lint` for style.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
FLASK   = $(BIN)/flask --app wsgi

.PHONY: run test lint emulator chromium clean doctor screenshots

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/activate
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## run: serve Parley on http://$(HOST):$(PORT) with the local emulator and demo users
# The in-process emulator keeps its conversations here, so history survives a restart.
run: export TWILIO_EMULATOR_PERSIST ?= instance/emulator.sqlite3
# With the emulator, groups take SMS participants out of the box ("texted" from Twilio's test
# number) and WhatsApp users (from Twilio's sandbox sender); against real Twilio,
# TWILIO_PHONE_NUMBER and TWILIO_WHATSAPP_NUMBER must be your own.
ifndef TWILIO_ACCOUNT_SID
run: export TWILIO_PHONE_NUMBER ?= +15005550006
run: export TWILIO_WHATSAPP_NUMBER ?= +14155238886
endif
run: $(VENV)/.runtime
	mkdir -p instance
	$(FLASK) db upgrade
	$(FLASK) users demo
	@echo "Parley: open http://$${HOST:-127.0.0.1}:$${PORT:-5000} and log in as alice, bob or carol."
	exec $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

## emulator: a standalone Twilio emulator (for several workers), posting webhooks signed with
## TWILIO_AUTH_TOKEN to the Parley at PUBLIC_BASE_URL (else 127.0.0.1:PORT); see README
emulator: $(VENV)/.runtime
	exec $(BIN)/python -m twilio_emulator run --port $${EMULATOR_PORT:-4010} \
	  --webhook-url "$${PUBLIC_BASE_URL:-http://127.0.0.1:$${PORT:-5000}}/twilio/webhook" \
	  $${TWILIO_AUTH_TOKEN:+--auth-token "$$TWILIO_AUTH_TOKEN"}

## test: install what the tests need (Chromium included) and run every test on SQLite, then
## the tests that use Parley's database again on a scratch PostgreSQL database (127.0.0.1:5432,
## dropped after; `make test TEST_POSTGRES=0` skips that second run where there is no server)
TEST_POSTGRES ?= 1
test: $(VENV)/.dev chromium
	$(BIN)/python -m pytest
	if [ "$(TEST_POSTGRES)" != 0 ]; then $(BIN)/python -m pytest --database=postgresql; fi

## lint: ruff (lint + format check), mypy, and the import contracts in pyproject.toml
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

## doctor: check the Twilio set-up of the configured environment (credentials, webhook, URL)
doctor: $(VENV)/.runtime
	$(FLASK) twilio doctor

## screenshots: retake docs/screenshots/*.png from a fresh Parley with realistic demo data
screenshots: $(VENV)/.dev chromium
	$(BIN)/python -m tests.browser.screenshots

chromium:
	@test -x /usr/bin/chromium || { \
	  echo "Installing Debian's Chromium for the browser tests..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache instance
