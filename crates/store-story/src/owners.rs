//! A tenant always keeps an owner: the store refuses, in the same transaction as the change,
//! a demotion or deletion of the only owner, even when two of them race.

use std::sync::Arc;

use pillow_store::*;

use crate::fixtures::*;

/// An owner of `tenant`.
async fn owner(store: &dyn Store, tenant: TenantId, email: &str) -> User {
    let user = NewUser {
        role: Role::Owner,
        ..new_user(email)
    };
    store.create_user(tenant, &user).await.unwrap()
}

fn becomes(role: Role) -> UserPatch {
    UserPatch {
        role: Some(role),
        ..UserPatch::default()
    }
}

pub async fn the_only_owner_can_be_neither_demoted_nor_deleted(store: &dyn Store) {
    let acme = store.create_tenant("Acme owners").await.unwrap();
    let ada = owner(store, acme.id, "ada@acme.test").await;
    let refused = store
        .update_user(acme.id, ada.id, &becomes(Role::Admin))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(Constraint::LastOwner))),
        "{refused:?}"
    );
    let refused = store.delete_user(acme.id, ada.id).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(Constraint::LastOwner))),
        "{refused:?}"
    );
    let kept = store.get_user(acme.id, ada.id).await.unwrap().unwrap();
    assert_eq!(kept.role, Role::Owner);
    // Other changes to the only owner, and keeping the role, are fine.
    let renamed = UserPatch {
        name: Some("Ada L.".into()),
        role: Some(Role::Owner),
        ..UserPatch::default()
    };
    let renamed = store.update_user(acme.id, ada.id, &renamed).await.unwrap();
    assert_eq!(renamed.unwrap().name, "Ada L.");
}

pub async fn an_owner_with_a_fellow_owner_may_step_down_or_be_deleted(store: &dyn Store) {
    let acme = store.create_tenant("Acme owners").await.unwrap();
    let ada = owner(store, acme.id, "ada@acme.test").await;
    let bob = owner(store, acme.id, "bob@acme.test").await;
    let cy = owner(store, acme.id, "cy@acme.test").await;
    let stepped = store
        .update_user(acme.id, ada.id, &becomes(Role::Member))
        .await
        .unwrap();
    assert_eq!(stepped.unwrap().role, Role::Member);
    assert!(store.delete_user(acme.id, bob.id).await.unwrap());
    // Cy is now the only owner; a member is deleted freely.
    assert!(store.delete_user(acme.id, ada.id).await.unwrap());
    assert!(matches!(
        store.delete_user(acme.id, cy.id).await,
        Err(StoreError::Conflict(Constraint::LastOwner))
    ));
}

/// Two owners demote each other (or themselves) at once: one wins, the other is refused.
pub async fn two_racing_demotions_of_the_last_two_owners_leave_one_owner(store: Arc<dyn Store>) {
    for round in 0..10 {
        let acme = store
            .create_tenant(&format!("Acme race {round}"))
            .await
            .unwrap();
        let ada = owner(&*store, acme.id, "ada@acme.test").await;
        let bob = owner(&*store, acme.id, "bob@acme.test").await;
        let demote = |id: UserId| {
            let store = store.clone();
            tokio::spawn(async move { store.update_user(acme.id, id, &becomes(Role::Admin)).await })
        };
        let (one, two) = (demote(ada.id), demote(bob.id));
        let results = [one.await.unwrap(), two.await.unwrap()];
        let refused = results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict(Constraint::LastOwner))))
            .count();
        assert_eq!(refused, 1, "round {round}: {results:?}");
        let owners = store
            .list_users(acme.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|u| u.role == Role::Owner)
            .count();
        assert_eq!(owners, 1, "round {round}");
    }
}
