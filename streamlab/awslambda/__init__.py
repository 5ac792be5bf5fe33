"""streamlab.awslambda: a local AWS Lambda that runs functions in real runtimes.

One local AWS endpoint (``python -m streamlab.awslambda``, default ``http://127.0.0.1:4566``)
serves the Lambda API to boto3 and hands every other service to moto, so deploy code written for
AWS runs here unchanged. Functions run in execution environments that are real processes running
AWS's runtime client (``awslambdaric``) against our Runtime API; event source mappings poll Kafka
with a real consumer group and build AWS's event.

Modules, one concept each (moto's layout for the API):

* :mod:`.urls`, :mod:`.responses`, :mod:`.models`, :mod:`.exceptions`, :mod:`.utils`: the Lambda
  REST API (wire layer, rules and state, AWS errors, ARNs and ids);
* :mod:`.runtime_api`: the Runtime API each environment's runtime talks to;
* :mod:`.environments`: execution environments (processes, freeze/thaw, pools, concurrency);
* :mod:`.logs`: CloudWatch-form logs and :func:`~.logs.read_logs`;
* :mod:`.metrics`: per-function counters;
* :mod:`.motobridge`: moto in-process, for every other service;
* :mod:`.endpoint`: the one HTTP listener that routes by SigV4 credential scope;
* :mod:`.esm`: Kafka event source mapping pollers;
* :mod:`.scaling`: the article's 1,000-partition scaling experiment in simulated time;
* :mod:`.lab`: the learner's Python API (functions, logs, invoke, mappings, metrics, scaling
  samples), behind ``streamlab lambda ...`` (:mod:`streamlab.lambda_cli`);
* :mod:`.testing`: start an endpoint process on free ports (tests, benchmarks, lessons).

``--time-scale N`` on the endpoint runs mappings' scalers N times faster (60: AWS's one-minute lag
check every second; also per mapping, ``POST /_streamlab/lambda/mappings/<uuid>/time-scale``);
``--scale-sleeps`` adds the functions' ``time.sleep``/``asyncio.sleep`` to it.
"""
