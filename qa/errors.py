"""Errors a user can act on; every front end maps them to its own form."""


class QAError(Exception):
    """Base class: the message says what went wrong and what to do next."""


class InvalidQuestionError(QAError):
    """The question is empty or too long."""


class ArticleError(QAError):
    """An article file or record could not be read or parsed."""


class IndexMismatchError(QAError):
    """The index was built with another model or format."""


class IndexCorruptError(QAError):
    """The index on disk cannot be opened."""


class IndexNotFoundError(QAError):
    """There is no index at the configured directory."""


class ArticleNotFoundError(QAError):
    """No article with that id is in the index."""


class ModelIntegrityError(QAError):
    """A bundled model's files are missing or are not the ones this version pins."""


class FetchError(QAError):
    """A page or feed could not be fetched (network error, bad status, too large, too many redirects)."""


class FetchRefusedError(FetchError):
    """A link was refused before any connection: a private address, a scheme other than http(s), robots.txt."""


class FeedError(QAError):
    """A feed could not be read: malformed XML, entity declarations, no entries."""


class SourceError(QAError):
    """A source cannot be added, found or removed."""


class HostNotFoundError(FetchRefusedError):
    """A link's host name does not resolve."""


class RobotsDisallowedError(FetchRefusedError):
    """robots.txt does not let us fetch a link."""


class SharedStateError(QAError):
    """The Redis that replicas share (QA_REDIS_URL) cannot be reached."""


class VectorStoreError(QAError):
    """The external vector store (QA_VECTOR_STORE=milvus) cannot be reached or used."""
