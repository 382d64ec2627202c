"""credential_source as the base of a role hop: Environment, EcsContainer."""

import pytest

import awsroles
from awsroles.errors import CredentialRetrievalError
from awsroles.testing.fake_container import FakeContainerEndpoint

from helpers import make_env, role, write_aws_files


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def test_ecs_container_as_role_source(home, fake_sts, clock):
    write_aws_files(
        home, f"[profile task]\nrole_arn = {role('T')}\ncredential_source = EcsContainer\n", ""
    )
    with FakeContainerEndpoint(token="task-token", clock=clock) as ecs:
        base = ecs.credentials
        fake_sts.add_user(base.access_key, base.secret_key)
        env = make_env(
            home,
            fake_sts.url,
            AWS_CONTAINER_CREDENTIALS_FULL_URI=ecs.url,
            AWS_CONTAINER_AUTHORIZATION_TOKEN="task-token",
        )
        creds = awsroles.resolve("task", env=env, clock=clock).get_frozen_credentials()
        assert creds.access_key.startswith("ASIA")
        call = [c for c in fake_sts.calls if c.action == "AssumeRole"][0]
        assert call.access_key == base.access_key  # signed with the container credentials
        assert ecs.count() == 1
        # warm start: the container endpoint is not asked again (the source is lazy)
        awsroles.resolve("task", env=env, clock=clock).get_frozen_credentials()
        assert ecs.count() == 1


def test_ecs_container_source_not_configured(home, fake_sts, clock):
    write_aws_files(
        home, f"[profile task]\nrole_arn = {role('T')}\ncredential_source = ecscontainer\n", ""
    )
    creds = awsroles.resolve("task", env=make_env(home, fake_sts.url), clock=clock)
    with pytest.raises(CredentialRetrievalError) as err:
        creds.get_frozen_credentials()
    assert "EcsContainer" in str(err.value) and "AWS_CONTAINER_CREDENTIALS" in str(err.value)


def test_container_in_the_default_chain(home, clock):
    write_aws_files(home, "", "")
    with FakeContainerEndpoint(clock=clock, token=None) as ecs:
        env = make_env(home, AWS_CONTAINER_CREDENTIALS_FULL_URI=ecs.url)
        creds = awsroles.resolve(env=env, clock=clock)
        assert creds.method == "container-role"
        assert creds.get_frozen_credentials().access_key == ecs.credentials.access_key
        text = awsroles.explain(env=env, clock=clock)
        assert "container-role" in text and "AWS_CONTAINER_CREDENTIALS_FULL_URI" in text
