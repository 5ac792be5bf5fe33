"""The catalog: data sources (``sources``) and the metastore that holds them (``metastore``)."""

from streamlab.ksql.catalog.metastore import MetaStore
from streamlab.ksql.catalog.sources import DataSource, DataSourceType, KsqlTopic, TimestampColumn

__all__ = ["DataSource", "DataSourceType", "KsqlTopic", "MetaStore", "TimestampColumn"]
