# Two commands for a newcomer: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export MUJOCO_GL ?= egl
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST

.PHONY: install demo test test-all bench tokenizer clean

$(STAMP): requirements.txt setup.py package.xml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade -q "pip>=23"
	$(PY) -m pip install -r requirements.txt
	# Genuine RGB Stacking assets (package data only; their Python stack pins old versions).
	$(PY) -m pip install --no-deps dm-robotics-moma==0.10.0 dm-robotics-manipulation==0.10.0
	# Franka Panda + Franka Hand MJCF and meshes (robots/panda; package data only, none of its Python is imported).
	$(PY) -m pip install --no-deps robosuite==1.5.2
	$(PY) -m pip install --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@model=models/default; \
	if [ ! -f $$model/gato.json ]; then \
	  model=build/random_tiny; \
	  echo "models/default is absent: running a RANDOMLY INITIALISED tiny model ($$model); it will not stack"; \
	  [ -f $$model/gato.json ] || $(VENV)/bin/gato-ros export --random tiny --out $$model; \
	fi; \
	$(VENV)/bin/gato-ros run stacking --sim true --model $$model --episodes 2

test: $(STAMP)
	$(PY) -m pytest -m "not slow" -q

test-all: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(VENV)/bin/gato-ros bench --with-sim

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
