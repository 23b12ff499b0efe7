"""The environment a run hands on: secrets withdrawn (pure)."""

from tasks.core import environment


def test_secrets_are_withdrawn_and_only_the_api_key_comes_back():
    env = {"PATH": "/bin", "SOURCE_DATABASE_URL": "u", "TARGET_DATABASE_URL": "u", "HEROKU_API_KEY": "k",
           "HEROKU_POSTGRESQL_RED_URL": "u", "PGPASSWORD": "p", "ENV_FILE": ".env"}
    removed = environment.withdraw_secrets(env)
    assert env == {"PATH": "/bin", "ENV_FILE": ".env"} and len(removed) == 5
    assert environment.heroku_credentials() == {"HEROKU_API_KEY": "k"}
