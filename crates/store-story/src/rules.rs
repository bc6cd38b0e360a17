//! Availability rules: one default per user, listing, replacing, deleting, the busy version
//! each write bumps, and what another tenant sees (nothing).

use pillow_store::*;

use crate::fixtures::*;

/// Ada's three rules (the second the default) and Bob's one, made in that order.
struct Scene {
    world: World,
    first: AvailabilityRule,
    second: AvailabilityRule,
    third: AvailabilityRule,
    bobs: AvailabilityRule,
}

async fn scene(store: &dyn Store) -> Scene {
    let world = world(store).await;
    let (acme, ada, bob) = (world.acme.id, world.ada.id, world.bob.id);
    let create = async |rule: NewAvailabilityRule| store.create_rule(acme, &rule).await.unwrap();
    Scene {
        first: create(new_rule(ada, "first", true)).await,
        second: create(new_rule(ada, "second", true)).await,
        third: create(new_rule(ada, "third", false)).await,
        bobs: create(new_rule(bob, "bob", true)).await,
        world,
    }
}

/// A replacement for any of Ada's rules: no name, the default, another document. It names Bob,
/// which the store ignores: a rule stays with its user.
fn replacement(world: &World) -> NewAvailabilityRule {
    NewAvailabilityRule {
        user_id: world.bob.id,
        name: None,
        is_default: true,
        document: rule_document("08:30"),
    }
}

fn ids(rules: Vec<AvailabilityRule>) -> Vec<RuleId> {
    rules.into_iter().map(|r| r.id).collect()
}

fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

pub async fn a_new_user_starts_at_busy_version_zero(store: &dyn Store) {
    let World { acme, ada, .. } = world(store).await;
    assert_eq!(
        version(store, acme.id, ada.id).await,
        0,
        "a new user starts at 0"
    );
}

pub async fn a_rule_reads_back_whole_and_bumps_its_users_version(store: &dyn Store) {
    let World { acme, ada, .. } = world(store).await;
    let first = store
        .create_rule(acme.id, &new_rule(ada.id, "first", true))
        .await
        .unwrap();
    assert_eq!(first.tenant_id, acme.id);
    assert_eq!(first.user_id, ada.id);
    assert!(first.is_default);
    assert_eq!(
        first.document,
        rule_document("09:00"),
        "the document reads back whole"
    );
    assert_eq!(
        store.get_rule(acme.id, first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(version(store, acme.id, ada.id).await, 1);
}

/// In the same write, so no reader ever sees two defaults.
pub async fn a_second_default_rule_demotes_the_first(store: &dyn Store) {
    let World { acme, ada, .. } = world(store).await;
    let first = store
        .create_rule(acme.id, &new_rule(ada.id, "first", true))
        .await
        .unwrap();
    let second = store
        .create_rule(acme.id, &new_rule(ada.id, "second", true))
        .await
        .unwrap();
    assert!(second.is_default);
    let first_now = store.get_rule(acme.id, first.id).await.unwrap().unwrap();
    assert!(!first_now.is_default, "the old default was demoted");
    assert_eq!(version(store, acme.id, ada.id).await, 2);
}

pub async fn a_rule_that_is_not_the_default_leaves_the_default_alone(store: &dyn Store) {
    let Scene {
        world,
        second,
        third,
        ..
    } = scene(store).await;
    assert!(!third.is_default);
    assert!(
        store
            .get_rule(world.acme.id, second.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
}

pub async fn a_rule_bumps_only_its_own_users_version(store: &dyn Store) {
    let Scene { world, .. } = scene(store).await;
    assert_eq!(version(store, world.acme.id, world.ada.id).await, 3);
    assert_eq!(
        version(store, world.acme.id, world.bob.id).await,
        1,
        "only the rule's user is bumped"
    );
}

pub async fn rules_are_listed_by_user_and_by_tenant_in_creation_order(store: &dyn Store) {
    let Scene {
        world,
        first,
        second,
        third,
        bobs,
    } = scene(store).await;
    let acme = world.acme.id;
    assert_eq!(
        ids(store.list_rules(acme, Some(world.ada.id)).await.unwrap()),
        vec![first.id, second.id, third.id]
    );
    assert_eq!(
        ids(store.list_rules(acme, None).await.unwrap()),
        vec![first.id, second.id, third.id, bobs.id]
    );
    assert_eq!(
        ids(store.list_rules(acme, Some(world.bob.id)).await.unwrap()),
        vec![bobs.id]
    );
}

pub async fn default_rules_are_those_of_the_users_asked_for(store: &dyn Store) {
    let Scene {
        world,
        second,
        bobs,
        ..
    } = scene(store).await;
    let (acme, ada, bob, gus) = (world.acme.id, world.ada.id, world.bob.id, world.gus.id);
    let defaults = ids(store.default_rules(acme, &[ada, bob, gus]).await.unwrap());
    assert_eq!(sorted(defaults), sorted(vec![second.id, bobs.id]));
    assert!(store.default_rules(acme, &[]).await.unwrap().is_empty());
    assert_eq!(
        store.users_with_default_rule(acme).await.unwrap(),
        sorted(vec![ada, bob])
    );
}

pub async fn replacing_a_rule_keeps_its_id_its_user_and_its_creation_time(store: &dyn Store) {
    let Scene { world, third, .. } = scene(store).await;
    let acme = world.acme.id;
    let replaced = store
        .replace_rule(acme, third.id, &replacement(&world))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replaced.id, third.id);
    assert_eq!(replaced.user_id, world.ada.id);
    assert_eq!(replaced.name, None);
    assert!(replaced.is_default);
    assert_eq!(replaced.document, rule_document("08:30"));
    assert_eq!(replaced.created_at, third.created_at);
    assert!(replaced.updated_at >= third.updated_at);
    assert_eq!(version(store, acme, world.ada.id).await, 4);
    assert_eq!(version(store, acme, world.bob.id).await, 1);
}

pub async fn a_replacement_made_the_default_demotes_the_old_default(store: &dyn Store) {
    let Scene {
        world,
        second,
        third,
        ..
    } = scene(store).await;
    let acme = world.acme.id;
    store
        .replace_rule(acme, third.id, &replacement(&world))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !store
            .get_rule(acme, second.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
}

pub async fn replacing_the_default_with_itself_as_the_default_is_fine(store: &dyn Store) {
    let Scene { world, third, .. } = scene(store).await;
    let acme = world.acme.id;
    for _ in 0..2 {
        let replaced = store
            .replace_rule(acme, third.id, &replacement(&world))
            .await
            .unwrap()
            .unwrap();
        assert!(replaced.is_default);
    }
    assert_eq!(version(store, acme, world.ada.id).await, 5);
}

pub async fn the_other_tenant_neither_sees_nor_changes_a_rule(store: &dyn Store) {
    let Scene { world, first, .. } = scene(store).await;
    let (globex, ada, bob) = (world.globex.id, world.ada.id, world.bob.id);
    let before = version(store, world.acme.id, ada).await;
    let kept = store.get_rule(world.acme.id, first.id).await.unwrap();
    assert_eq!(store.get_rule(globex, first.id).await.unwrap(), None);
    assert!(store.list_rules(globex, None).await.unwrap().is_empty());
    assert!(
        store
            .list_rules(globex, Some(ada))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .default_rules(globex, &[ada, bob])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .users_with_default_rule(globex)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .replace_rule(globex, first.id, &replacement(&world))
            .await
            .unwrap(),
        None
    );
    assert!(!store.delete_rule(globex, first.id).await.unwrap());
    assert!(
        store
            .busy_versions(globex, &[ada])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        version(store, world.acme.id, ada).await,
        before,
        "refused writes bump nothing"
    );
    assert_eq!(store.get_rule(world.acme.id, first.id).await.unwrap(), kept);
}

pub async fn a_rule_for_another_tenants_user_or_for_no_user_is_refused(store: &dyn Store) {
    let Scene { world, third, .. } = scene(store).await;
    let (acme, ada) = (world.acme.id, world.ada.id);
    let before = version(store, acme, ada).await;
    let foreign = store
        .create_rule(world.globex.id, &new_rule(ada, "stolen", true))
        .await;
    assert!(
        matches!(&foreign, Err(StoreError::MissingReference(Entity::User))),
        "a rule for another tenant's user: {foreign:?}"
    );
    let nobody = store
        .create_rule(acme, &new_rule(UserId::new(), "nobody", false))
        .await;
    assert!(
        matches!(&nobody, Err(StoreError::MissingReference(Entity::User))),
        "a rule for no user: {nobody:?}"
    );
    assert_eq!(
        version(store, acme, ada).await,
        before,
        "refused writes bump nothing"
    );
    assert_eq!(store.get_rule(acme, third.id).await.unwrap(), Some(third));
}

pub async fn deleting_the_default_rule_leaves_the_user_without_one(store: &dyn Store) {
    let Scene {
        world,
        first,
        second,
        third,
        ..
    } = scene(store).await;
    let (acme, ada) = (world.acme.id, world.ada.id);
    store
        .replace_rule(acme, third.id, &replacement(&world))
        .await
        .unwrap()
        .unwrap();
    let before = version(store, acme, ada).await;
    assert!(store.delete_rule(acme, third.id).await.unwrap());
    assert!(
        !store.delete_rule(acme, third.id).await.unwrap(),
        "already gone"
    );
    assert_eq!(
        store
            .replace_rule(acme, third.id, &replacement(&world))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        version(store, acme, ada).await,
        before + 1,
        "the delete bumps once; the writes that found nothing bump nothing"
    );
    assert!(store.default_rules(acme, &[ada]).await.unwrap().is_empty());
    assert_eq!(
        store.users_with_default_rule(acme).await.unwrap(),
        vec![world.bob.id]
    );
    assert_eq!(
        ids(store.list_rules(acme, Some(ada)).await.unwrap()),
        vec![first.id, second.id]
    );
}

pub async fn busy_versions_are_those_of_the_tenants_users_asked_for(store: &dyn Store) {
    let Scene { world, .. } = scene(store).await;
    let (acme, ada, bob) = (world.acme.id, world.ada.id, world.bob.id);
    let versions = store
        .busy_versions(acme, &[ada, bob, world.gus.id, UserId::new()])
        .await
        .unwrap();
    assert_eq!(sorted(versions), sorted(vec![(ada, 3), (bob, 1)]));
    assert!(store.busy_versions(acme, &[]).await.unwrap().is_empty());
}

pub async fn deleting_a_user_deletes_the_users_rules(store: &dyn Store) {
    let Scene { world, bobs, .. } = scene(store).await;
    assert!(
        store
            .delete_user(world.acme.id, world.bob.id)
            .await
            .unwrap()
    );
    assert_eq!(store.get_rule(world.acme.id, bobs.id).await.unwrap(), None);
}

/// Defaults made at the same time for one user: every write succeeds, one default remains.
pub async fn racing_defaults_for_one_user_all_succeed_and_leave_one_default(store: &dyn Store) {
    let World { acme, ada, .. } = world(store).await;
    let make = |name: &'static str| async move {
        store
            .create_rule(acme.id, &new_rule(ada.id, name, true))
            .await
    };
    let existing = store
        .create_rule(acme.id, &new_rule(ada.id, "existing", true))
        .await
        .unwrap();
    let again = new_rule(ada.id, "existing", true);
    let (a, b, c, d, e, f) = tokio::join!(
        make("a"),
        make("b"),
        make("c"),
        make("d"),
        store.replace_rule(acme.id, existing.id, &again),
        make("f"),
    );
    for result in [a, b, c, d, f] {
        result.expect("a concurrent default");
    }
    e.expect("a concurrent replace").expect("the rule exists");
    let defaults = store.default_rules(acme.id, &[ada.id]).await.unwrap();
    assert_eq!(defaults.len(), 1, "one default after a race: {defaults:?}");
    let all = store.list_rules(acme.id, Some(ada.id)).await.unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all.iter().filter(|r| r.is_default).count(), 1);
    assert_eq!(
        version(store, acme.id, ada.id).await,
        7,
        "every write bumped once"
    );
}
