"""Provision and tear down the workshop's live systems: Confluent Cloud (REST API) and AWS (boto3).

``python -m setup.cloud plan|up|down|status``; see README.md.
"""
